"""edgemeter's Prometheus exporter: board sensors read at scrape time."""

from edgemeter import __getattr__  # noqa: F401 - __version__, looked up on first use (edgemeter/__init__.py)

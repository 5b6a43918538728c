"""edgemeter's Prometheus exporter: board sensors read at scrape time."""

__version__ = "0.1.0"

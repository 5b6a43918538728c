"""edgemeter's prompt runner: prompts in, per-prompt tokens, latencies and energy out."""

from edgemeter import __getattr__  # noqa: F401 - __version__, looked up on first use (edgemeter/__init__.py)

"""edgemeter's prompt runner: prompts in, per-prompt tokens, latencies and energy out."""

__version__ = "0.1.0"

"""The optional packages and the extra of ours that installs each: one place for the one line a
user gets when one is missing (an Ollama-only user never compiles llama.cpp)."""

from __future__ import annotations

# module imported -> (distribution on PyPI, our extra)
EXTRAS = {
    "llama_cpp": ("llama-cpp-python", "llamacpp"),
    "serial": ("pyserial", "serial"),
    "matplotlib": ("matplotlib", "report"),
    "pynvml": ("nvidia-ml-py", "nvidia"),
}


def missing(module: str) -> str:
    """``pyserial is not installed: pip install 'edgemeter[serial]'`` for ``module``."""
    package, extra = EXTRAS[module]
    return f"{package} is not installed: pip install 'edgemeter[{extra}]'"

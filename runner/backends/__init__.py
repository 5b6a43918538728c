"""Backends, one module each behind :class:`~edgemeter.runner.backends.base.Backend`, registered
here: a new engine is one module and one line in :data:`BACKENDS`. A backend's module is imported
only when a run picks it, so an Ollama user never loads llama.cpp."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgemeter.runner.backends.base import Backend


@dataclass(frozen=True)
class Entry:
    module: str  # under edgemeter.runner.backends
    cls: str
    default_host: str | None = None  # a server: its URL unless --host says another
    host_env: str | None = None  # an environment variable the engine's own tools read for it
    needs_model: bool = False  # the server serves several: --model picks one
    text: bool = False  # a text engine, built from its own flags (text_cli)

    def load(self) -> type[Backend]:
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), self.cls)


BACKENDS: dict[str, Entry] = {
    "llamacpp": Entry("llamacpp", "LlamaCppBackend"),
    "ollama": Entry("ollama", "OllamaBackend", "http://127.0.0.1:11434", "OLLAMA_HOST", needs_model=True),
    "llama-server": Entry("llama_server", "LlamaServerBackend", "http://127.0.0.1:8080"),
    "command": Entry("text.command", "CommandBackend", text=True),
    "serial": Entry("text.serial_line", "SerialBackend", text=True),
}
DEFAULT = "llamacpp"

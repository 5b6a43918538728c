"""Ollama over its documented HTTP API: streaming ``/api/generate``.

Token counts and durations come from Ollama's final chunk (``prompt_eval_count``,
``eval_count``, ``*_duration`` in ns). Ollama has no time-to-first-token field: the runner
measures it. When the prompt was cached Ollama omits ``prompt_eval_count``: recorded as
``cached_prompt``, input tokens unknown (never a silent 0). The API is spoken directly (see
``http_stream``) so a stop or ``--timeout`` can end a reply that sends nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

from edgemeter.runner.backends.base import (
    Backend,
    BackendUnavailable,
    EngineStats,
    ModelInfo,
    ModelMissing,
    is_number,
)
from edgemeter.runner.backends.http_stream import HttpEngine, HttpFault, stream_reply

NS = 1e9
KEEP_ALIVE = "30m"


def _seconds(ns: Any) -> float | None:
    return ns / NS if is_number(ns) else None


def _error(fault: HttpFault) -> str:
    """Ollama's own error text (``{"error": "..."}``) where it sent one."""
    try:
        detail = json.loads(fault.body).get("error")
    except (ValueError, AttributeError):
        detail = None
    return f"{fault.status}: {detail}" if detail else str(fault)


class OllamaBackend(Backend):
    name = "ollama"
    blocks_on_reads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = HttpEngine(self.host)
        self._info = ModelInfo(self.model)

    def _options(self, max_tokens: int) -> dict[str, Any]:
        o = self.options
        return {"num_predict": max_tokens, "temperature": o.temperature, "seed": o.seed, "num_ctx": o.ctx}

    def start(self) -> float:
        try:
            listed = self.http.request("GET", "/api/tags") or {}
        except HttpFault as exc:
            if exc.status is not None:
                raise BackendUnavailable(f"Ollama at {self.host} answered {_error(exc)}") from exc
            raise BackendUnavailable(f"cannot reach Ollama at {self.host}: {exc}") from exc
        models = {
            m.get("model") or m.get("name"): m for m in listed.get("models") or [] if isinstance(m, dict)
        }
        match = models.get(self.model) or models.get(f"{self.model}:latest")
        if match is None:
            raise ModelMissing(
                f"model {self.model!r} is not on the Ollama at {self.host}: run `ollama pull {self.model}`"
            )
        details = {k: str(v) for k, v in (match.get("details") or {}).items() if v is not None}
        self._info = ModelInfo(self.model, match.get("digest"), match.get("size"), details)
        start = time.perf_counter()
        try:  # an empty prompt loads the model and generates nothing (Ollama's documented way)
            loaded = self.http.request(
                "POST",
                "/api/generate",
                {"model": self.model, "prompt": "", "stream": False, "keep_alive": KEEP_ALIVE},
                timeout=self.options.timeout,
            )
        except HttpFault as exc:
            raise BackendUnavailable(f"Ollama could not load {self.model}: {_error(exc)}") from exc
        reported = _seconds((loaded or {}).get("load_duration"))
        return reported if reported is not None else time.perf_counter() - start

    def stream(self, prompt: str, system: str | None, max_tokens: int) -> Generator[str, None, EngineStats]:
        body = {
            "model": self.model,
            "prompt": prompt,
            "stream": True,
            "options": self._options(max_tokens),
            "keep_alive": KEEP_ALIVE,
        }
        if system:
            body["system"] = system
        final = yield from stream_reply(
            self.http,
            "/api/generate",
            body,
            self.options.timeout,
            "Ollama",
            ("response", "done"),
            status_text=_error,
        )
        return EngineStats(
            input_tokens=final.get("prompt_eval_count"),
            output_tokens=final.get("eval_count"),
            prefill_seconds=_seconds(final.get("prompt_eval_duration")),
            decode_seconds=_seconds(final.get("eval_duration")),
            load_seconds=_seconds(final.get("load_duration")),
            cached_prompt=final.get("prompt_eval_count") is None,
            extra={k: v for k, v in final.items() if k.endswith(("_count", "_duration")) and is_number(v)},
        )

    def abort(self) -> None:
        self.http.abort()

    def info(self) -> ModelInfo:
        return self._info

    def version(self) -> str | None:
        try:
            answer = self.http.request("GET", "/api/version")
        except HttpFault:
            return None
        return str(answer.get("version")) if isinstance(answer, dict) and answer.get("version") else None

"""Ollama through the official ``ollama`` client: streaming ``/api/generate``.

Token counts and durations come from Ollama's final chunk (``prompt_eval_count``,
``eval_count``, ``*_duration`` in ns). Ollama has no time-to-first-token field: the runner
measures it. When the prompt was cached Ollama omits ``prompt_eval_count``: recorded as
``cached_prompt``, input tokens unknown (never a silent 0).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Generator
from typing import Any

from runner.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    EngineStats,
    ModelInfo,
    ModelMissing,
)

NS = 1e9


def _seconds(ns: Any) -> float | None:
    return ns / NS if isinstance(ns, (int, float)) else None


class OllamaBackend(Backend):
    name = "ollama"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import ollama  # imported here: the other backends do not need it

        self._ollama = ollama
        self.client = ollama.Client(host=self.host, timeout=600)
        self._info = ModelInfo(self.model)

    def _options(self, max_tokens: int) -> dict[str, Any]:
        o = self.options
        return {"num_predict": max_tokens, "temperature": o.temperature, "seed": o.seed, "num_ctx": o.ctx}

    def start(self) -> float:
        try:
            listed = self.client.list()
        except self._ollama.ResponseError as exc:
            raise BackendUnavailable(
                f"Ollama at {self.host} answered {exc.status_code}: {exc.error}"
            ) from exc
        except Exception as exc:  # httpx connection errors, wrapped differently across versions
            raise BackendUnavailable(
                f"cannot reach Ollama at {self.host} ({exc.__class__.__name__})"
            ) from exc
        models = {m.model: m for m in listed.models}
        match = models.get(self.model) or models.get(f"{self.model}:latest")
        if match is None:
            raise ModelMissing(
                f"model {self.model!r} is not on the Ollama at {self.host}: run `ollama pull {self.model}`"
            )
        details = match.details.model_dump(exclude_none=True) if match.details else {}
        self._info = ModelInfo(self.model, match.digest, match.size, {k: str(v) for k, v in details.items()})
        start = time.perf_counter()
        try:  # an empty prompt loads the model and generates nothing (Ollama's documented way)
            loaded = self.client.generate(model=self.model, prompt="", keep_alive="30m")
        except self._ollama.ResponseError as exc:
            raise BackendUnavailable(f"Ollama could not load {self.model}: {exc.error}") from exc
        reported = _seconds(getattr(loaded, "load_duration", None))
        return reported if reported is not None else time.perf_counter() - start

    def stream(self, prompt: str, system: str | None, max_tokens: int) -> Generator[str, None, EngineStats]:
        try:
            chunks = self.client.generate(
                model=self.model,
                prompt=prompt,
                system=system,
                stream=True,
                options=self._options(max_tokens),
                keep_alive="30m",
            )
            final = None
            for chunk in chunks:
                if chunk.response:
                    yield chunk.response
                if chunk.done:
                    final = chunk
        except self._ollama.ResponseError as exc:
            raise BackendError(f"Ollama {exc.status_code}: {exc.error}") from exc
        except (ConnectionError, OSError) as exc:
            raise BackendError(f"Ollama connection lost: {exc}") from exc
        except Exception as exc:  # httpx transport errors mid-stream
            raise BackendError(f"Ollama stream failed: {exc.__class__.__name__}: {exc}") from exc
        if final is None:
            raise BackendError("Ollama stream ended without its final 'done' chunk")
        return EngineStats(
            input_tokens=final.prompt_eval_count,
            output_tokens=final.eval_count,
            prefill_seconds=_seconds(final.prompt_eval_duration),
            decode_seconds=_seconds(final.eval_duration),
            load_seconds=_seconds(final.load_duration),
            cached_prompt=final.prompt_eval_count is None,
            extra={"total_seconds": _seconds(final.total_duration) or 0.0},
        )

    def info(self) -> ModelInfo:
        return self._info

    def version(self) -> str | None:
        try:
            with urllib.request.urlopen(f"{self.host.rstrip('/')}/api/version", timeout=5) as r:
                return str(json.load(r).get("version"))
        except (OSError, ValueError):
            return None

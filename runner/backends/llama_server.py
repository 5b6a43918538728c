"""A running llama.cpp server (``llama-server``) over HTTP: streaming ``/completion``.

The server's final event carries ``timings`` (prompt_n, prompt_ms, predicted_n, predicted_ms):
those are the engine's figures. ``cache_prompt`` is off so every prompt's prefill is measured
in full, as in the other backends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

import requests

from runner.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    EngineStats,
    ModelInfo,
    plain_prompt,
)

CONNECT_TIMEOUT = 5.0


class LlamaServerBackend(Backend):
    name = "llama-server"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = self.host.rstrip("/")
        self.session = requests.Session()
        self._props: dict[str, Any] = {}

    def start(self) -> float:
        start = time.perf_counter()
        deadline = start + 600
        while True:  # the server answers 503 while it loads the model: that wait is the load time
            try:
                r = self.session.get(f"{self.base}/health", timeout=CONNECT_TIMEOUT)
            except requests.RequestException as exc:
                raise BackendUnavailable(
                    f"cannot reach llama-server at {self.base} ({exc.__class__.__name__})"
                ) from exc
            if r.status_code == 200:
                break
            if r.status_code != 503 or time.perf_counter() > deadline:
                raise BackendUnavailable(f"llama-server at {self.base} answered {r.status_code} on /health")
            time.sleep(0.2)
        waited = time.perf_counter() - start
        try:
            self._props = self.session.get(f"{self.base}/props", timeout=CONNECT_TIMEOUT).json()
        except (requests.RequestException, ValueError):
            self._props = {}
        return waited

    def stream(self, prompt: str, system: str | None, max_tokens: int) -> Generator[str, None, EngineStats]:
        text = plain_prompt(prompt, system)
        body = {
            "prompt": text,
            "n_predict": max_tokens,
            "temperature": self.options.temperature,
            "seed": self.options.seed,
            "stream": True,
            "cache_prompt": False,
        }
        final: dict[str, Any] | None = None
        try:
            with self.session.post(
                f"{self.base}/completion", json=body, stream=True, timeout=(CONNECT_TIMEOUT, 600)
            ) as r:
                if r.status_code != 200:
                    raise BackendError(f"llama-server {r.status_code}: {r.text[:200]}")
                for line in r.iter_lines():
                    if not line.startswith(b"data: "):
                        continue
                    event = json.loads(line[6:])
                    if event.get("content"):
                        yield event["content"]
                    if event.get("stop"):
                        final = event
        except requests.RequestException as exc:
            raise BackendError(f"llama-server connection lost: {exc.__class__.__name__}") from exc
        except ValueError as exc:
            raise BackendError(f"llama-server sent a malformed event: {exc}") from exc
        if final is None:
            raise BackendError("llama-server stream ended without its final event")
        t = final.get("timings") or {}
        return EngineStats(
            input_tokens=t.get("prompt_n", final.get("tokens_evaluated")),
            output_tokens=t.get("predicted_n", final.get("tokens_predicted")),
            prefill_seconds=t["prompt_ms"] / 1000 if "prompt_ms" in t else None,
            decode_seconds=t["predicted_ms"] / 1000 if "predicted_ms" in t else None,
        )

    def info(self) -> ModelInfo:
        path = self._props.get("model_path") or self.model
        return ModelInfo(str(path))

    def version(self) -> str | None:
        build = self._props.get("build_info")
        return str(build) if build else None

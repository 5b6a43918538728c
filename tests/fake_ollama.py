"""A local HTTP server that speaks Ollama's documented API, for the Ollama backend's tests.

Ollama's server cannot be installed here. This one follows the API reference: ``/api/version``,
``/api/tags``, ``/api/show``, and ``/api/generate`` streaming NDJSON whose final chunk carries
``prompt_eval_count``, ``eval_count`` and ``*_duration`` in nanoseconds; an empty prompt only
loads the model; an unknown model answers 404 ``{"error": "model \"x\" not found, try pulling it
first"}``. Behaviour the tests need is driven by the prompt text: ``CACHED`` omits
``prompt_eval_count`` (as Ollama does for a cached prompt), ``CRASH`` drops the connection
mid-stream, ``SLOW`` makes every token take 0.2 s.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = {
    "name": "smollm2:135m",
    "model": "smollm2:135m",
    "modified_at": "2026-11-01T10:00:00Z",
    "size": 270898672,
    "digest": "9077fe9d2ae1a4a41a868836b56b8163731a8fe16621397028c2c76f838c6907",
    "details": {
        "format": "gguf",
        "family": "llama",
        "parameter_size": "134.52M",
        "quantization_level": "F16",
    },
}
ANSWER = "The sky looks blue because air scatters short blue wavelengths more than red ones ."


class FakeOllama(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, token_delay: float = 0.01) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token_delay = token_delay
        self.requests: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FakeOllama:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeOllama
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        if self.path == "/api/version":
            self._json(200, {"version": "0.6.5"})
        elif self.path == "/api/tags":
            self._json(200, {"models": [MODEL]})
        else:
            self._json(404, {"error": "404 page not found"})

    def do_POST(self) -> None:
        body = self._body()
        self.server.requests.append({"path": self.path, **body})
        model = body.get("model") or body.get("name")
        if model not in (MODEL["name"], "smollm2"):
            self._json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        if self.path == "/api/show":
            self._json(
                200,
                {
                    "modelfile": "FROM smollm2",
                    "parameters": "",
                    "template": "{{ .Prompt }}",
                    "details": MODEL["details"],
                },
            )
        elif self.path == "/api/generate":
            self._generate(body)
        else:
            self._json(404, {"error": "404 page not found"})

    def _generate(self, body: dict[str, Any]) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        prompt = body.get("prompt", "")
        if not prompt:
            self._json(
                200,
                {
                    "model": MODEL["name"],
                    "created_at": now,
                    "response": "",
                    "done": True,
                    "done_reason": "load",
                    "load_duration": 412_000_000,
                },
            )
            return
        limit = (body.get("options") or {}).get("num_predict", 128)
        words = ANSWER.split()[:limit]
        delay = 0.2 if "SLOW" in prompt else self.server.token_delay
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(obj: dict[str, Any]) -> None:
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        start = time.perf_counter()
        time.sleep(delay)  # prompt processing
        prefill = time.perf_counter() - start
        for i, word in enumerate(words):
            if "CRASH" in prompt and i == 2:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            chunk({"model": MODEL["name"], "created_at": now, "response": word + " ", "done": False})
            if i < len(words) - 1:
                time.sleep(delay)
        decode = time.perf_counter() - start - prefill
        final = {
            "model": MODEL["name"],
            "created_at": now,
            "response": "",
            "done": True,
            "done_reason": "length",
            "context": [1, 2, 3],
            "total_duration": int((time.perf_counter() - start) * 1e9),
            "load_duration": 1_200_000,
            "prompt_eval_duration": int(prefill * 1e9),
            "eval_count": len(words),
            "eval_duration": int(decode * 1e9),
        }
        if "CACHED" not in prompt:
            final["prompt_eval_count"] = len(prompt.split()) + 12
        chunk(final)
        self.wfile.write(b"0\r\n\r\n")

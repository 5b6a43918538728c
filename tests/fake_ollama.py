"""A local HTTP server that speaks Ollama's documented API, for the Ollama backend's tests.

Ollama's server cannot be installed here. This one follows the API reference: ``/api/version``,
``/api/tags``, ``/api/show``, and ``/api/generate`` streaming NDJSON whose final chunk carries
``prompt_eval_count``, ``eval_count`` and ``*_duration`` in nanoseconds; an empty prompt only
loads the model; an unknown model answers 404 ``{"error": "model \"x\" not found, try pulling it
first"}``. Behaviour the tests need is driven by the prompt text: ``CACHED`` omits
``prompt_eval_count`` (as Ollama does for a cached prompt), ``CRASH`` drops the connection
mid-stream, ``SLOW`` makes every token take 0.2 s, ``LONGPREFILL`` the prompt processing 1.2 s.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fake_http import JsonHandler, LocalServer

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


class FakeOllama(LocalServer):
    def __init__(self, token_delay: float = 0.01) -> None:
        super().__init__(_Handler)
        self.token_delay = token_delay
        self.requests: list[dict[str, Any]] = []


class _Handler(JsonHandler):
    server: FakeOllama

    def do_GET(self) -> None:
        if self.path == "/api/version":
            self.send_json(200, {"version": "0.6.5"})
        elif self.path == "/api/tags":
            self.send_json(200, {"models": [MODEL]})
        else:
            self.send_json(404, {"error": "404 page not found"})

    def do_POST(self) -> None:
        body = self.body()
        self.server.requests.append({"path": self.path, **body})
        model = body.get("model") or body.get("name")
        if model not in (MODEL["name"], "smollm2"):
            self.send_json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        if self.path == "/api/show":
            self.send_json(
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
            self.send_json(404, {"error": "404 page not found"})

    def _generate(self, body: dict[str, Any]) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        prompt = body.get("prompt", "")
        if not prompt:
            self.send_json(
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
        self.start_stream("application/x-ndjson")

        def chunk(obj: dict[str, Any]) -> None:
            self.send_chunk((json.dumps(obj) + "\n").encode())

        start = time.perf_counter()
        time.sleep(1.2 if "LONGPREFILL" in prompt else delay)  # prompt processing
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
        self.end_stream()

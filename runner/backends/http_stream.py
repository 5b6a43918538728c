"""A small HTTP/1.1 JSON client for the engines that are servers (Ollama, llama-server).

Written on ``http.client`` rather than a client library because the run must be able to end a
reply from outside: :meth:`HttpEngine.abort` shuts the streaming socket down, which wakes a read
blocked in another thread at once (closing a socket does not), and the engine sees its client go
and stops generating. Every fault is an :class:`HttpFault` with one line for the user.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from edgemeter.runner.backends.base import BackendError

CONNECT_TIMEOUT = 5.0
# a streaming read waits this much longer than the run's --timeout: the run ends a silent reply
# itself (abort), the socket's own timeout is only the backstop
STREAM_BACKSTOP = 30.0


class HttpFault(Exception):
    """The server could not be reached, answered an error, or broke off (``status`` None)."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def split_credentials(url: str) -> tuple[str, str | None]:
    """The URL without ``user:pass@`` and the Basic Authorization header those credentials make
    (None without them): the one place a URL's credentials are read, so none is ever logged."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return bare, "Basic " + base64.b64encode(secret).decode()


class HttpEngine:
    def __init__(self, base_url: str) -> None:
        bare, auth = split_credentials(base_url if "://" in base_url else f"http://{base_url}")
        parts = urlsplit(bare)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{base_url}: not an http(s) URL")
        self.https = parts.scheme == "https"
        self.hostname = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth is not None:
            self.headers["Authorization"] = auth
        self._lock = threading.Lock()
        self._streaming: http.client.HTTPConnection | None = None
        self.base = f"{parts.scheme}://{parts.netloc}{self.prefix}"

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.hostname, self.port, timeout=timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self.hostname, self.port, timeout=timeout)

    def _send(
        self, method: str, path: str, body: Any, timeout: float
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = self._connect(timeout)
        data = None if body is None else json.dumps(body).encode()
        try:
            conn.request(method, self.prefix + path, body=data, headers=self.headers)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise HttpFault(f"cannot reach {self.base} ({_why(exc)})") from exc

    def request(self, method: str, path: str, body: Any = None, timeout: float = CONNECT_TIMEOUT) -> Any:
        """One JSON request; the decoded answer (HttpFault for an error status or a bad body)."""
        conn, r = self._send(method, path, body, timeout)
        try:
            raw = r.read()
        except (OSError, http.client.HTTPException) as exc:
            raise HttpFault(f"{self.base}{path}: the answer broke off ({_why(exc)})") from exc
        finally:
            conn.close()
        text = raw.decode("utf-8", "replace")
        if r.status >= 400:
            raise HttpFault(f"{self.base}{path} answered {r.status}", r.status, text)
        try:
            return json.loads(text) if text.strip() else None
        except ValueError as exc:
            raise HttpFault(f"{self.base}{path}: the answer is not JSON", r.status, text) from exc

    def stream_lines(self, path: str, body: Any, read_timeout: float) -> Iterator[bytes]:
        """POST ``body`` and yield the answer's lines as they arrive (SSE or NDJSON). An error
        status is an HttpFault carrying the body; so is a stream that breaks off or is aborted."""
        conn, r = self._send("POST", path, body, read_timeout + STREAM_BACKSTOP)
        with self._lock:
            self._streaming = conn
        try:
            if r.status >= 400:
                text = r.read().decode("utf-8", "replace")
                raise HttpFault(f"{self.base}{path} answered {r.status}", r.status, text)
            while True:
                try:
                    line = r.readline()
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    raise HttpFault(f"{self.base}: the stream broke off ({_why(exc)})") from exc
                if not line:
                    return
                line = line.rstrip(b"\r\n")
                if line:
                    yield line
        finally:
            with self._lock:
                self._streaming = None
            conn.close()

    def abort(self) -> None:
        """End the reply being streamed, from any thread: its read raises at once."""
        with self._lock:
            conn = self._streaming
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def stream_reply(
    http: HttpEngine,
    path: str,
    body: Any,
    timeout: float,
    engine: str,
    keys: tuple[str, str],
    prefix: bytes = b"",
    status_text: Callable[[HttpFault], str] = lambda fault: f"{fault.status}: {fault.body[:200]}",
) -> Generator[str, None, dict[str, Any]]:
    """One streamed reply of JSON events (NDJSON, or SSE with ``prefix`` ``data: ``): yields the
    text under ``keys[0]`` and returns the event where ``keys[1]`` is true (the engine's final
    figures). Every fault is a BackendError naming ``engine``; a stream that ends without its
    final event was cut short."""
    text_key, final_key = keys
    final: dict[str, Any] | None = None
    try:
        for line in http.stream_lines(path, body, timeout):
            if not line.startswith(prefix):
                continue
            event = json.loads(line[len(prefix) :])
            if not isinstance(event, dict):
                raise BackendError(f"{engine} sent an event that is not a JSON object")
            if event.get("error"):
                raise BackendError(f"{engine}: {event['error']}")
            if event.get(text_key):
                yield event[text_key]
            if event.get(final_key):
                final = event
    except HttpFault as exc:
        if exc.status is not None:
            raise BackendError(f"{engine} {status_text(exc)}") from exc
        raise BackendError(f"{engine} connection lost: {exc}") from exc
    except ValueError as exc:
        raise BackendError(f"{engine} sent a malformed event: {exc}") from exc
    if final is None:
        raise BackendError(f"{engine} reply cut short: the stream ended without its final event")
    return final


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.IncompleteRead):
        return "cut short"
    return str(exc) or exc.__class__.__name__

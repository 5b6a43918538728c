"""HTTP(S) server for ``/metrics``, the sampler's history at ``/samples`` and a landing page at ``/``.

Our own small server rather than prometheus_client's ``start_http_server`` because we need
basic auth, a landing page, and HTTP/1.1 keep-alive (Prometheus keeps its scrape connection
open; a new TCP+TLS handshake per scrape would cost the measured board more than the scrape).
One thread per connection, so concurrent scrapes never wait on each other; the connections are
bounded and every request has a deadline (exporter/connections.py), so no client can hold the
server. TLS is set up in the connection's own thread, after a look at the first byte: a plain
HTTP request to the TLS port gets a plain 400 saying so, as Go's servers answer it.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import gzip
import html
import logging
import select
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from edgemeter.exporter import __version__
from edgemeter.exporter.connections import REQUEST_DEADLINE, Connections
from edgemeter.exporter.exposition import CONTENT_TYPE
from edgemeter.exporter.history import BadQuery
from edgemeter.exporter.http_request import BadHead, CutHead, http_version, read_headers
from edgemeter.exporter.registry import Scrapes, UnknownCollector
from edgemeter.exporter.webconfig import WebConfig

log = logging.getLogger(__name__)


MAX_BODY = 64 * 1024  # a request body up to this is read and dropped; a larger one ends the connection
NOT_TLS = (
    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    b"Client sent an HTTP request to an HTTPS server.\n"
)
SWEEP_PERIOD = 1.0  # seconds between sweeps for connections past their deadline
TLS_HANDSHAKE = 0x16  # the first byte of every TLS record that opens a connection (a ClientHello)


_DATE: list[tuple[int, str]] = [(0, "")]  # the Date header of the current second


def http_date() -> str:
    """The Date header's value (RFC 9110's IMF-fixdate), formatted once a second."""
    now = int(time.time())
    second, text = _DATE[0]
    if second != now:
        text = email.utils.formatdate(now, usegmt=True)
        _DATE[0] = (now, text)
    return text


class ExporterServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 50+ parallel scrapes must not hit the default backlog of 5

    def __init__(
        self,
        address: tuple[str, int],
        scrapes: Scrapes,
        web: WebConfig,
        landing: Callable[[], str],
        connections: Connections | None = None,
        samples: Callable[[str], bytes] | None = None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.scrapes = scrapes
        self.samples = samples  # /samples: the sampler's history (exporter/history.py)
        self.web = web
        self.landing = landing
        self.connections = connections if connections is not None else Connections()
        # --web-config's headers, the same on every answer: written once, in UTF-8 as Go writes them
        self.head = "".join(f"{key}: {value}\r\n" for key, value in web.headers.items()).encode()
        self._stopping = False
        self._stopped = threading.Event()
        self._wake = socket.socketpair()  # shutdown() writes a byte: the loop wakes at once
        super().__init__(address, MetricsHandler)

    def serve_forever(self, poll_interval: float = SWEEP_PERIOD) -> None:
        """Accept connections until shutdown(), sweeping them every ``poll_interval`` seconds.
        The standard library's loop wakes every 0.5 s to look for a shutdown request, and each
        wake costs a busy board CPU (0.15-0.3 ms with a model decoding on every core); here
        shutdown() wakes the loop itself, and the loop wakes only to accept and to sweep (the
        deadlines it enforces are 10 s and 60 s)."""
        self._stopped.clear()
        try:
            with selectors.PollSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake[0], selectors.EVENT_READ)
                while not self._stopping:
                    ready = selector.select(poll_interval)
                    if self._stopping:
                        break
                    if any(key.fileobj is self for key, _ in ready):
                        self._handle_request_noblock()
                    self.service_actions()
        finally:
            self._wake[0].setblocking(False)
            with contextlib.suppress(BlockingIOError):
                self._wake[0].recv(64)  # shutdown's byte: a later loop must not wake to it
            self._stopping = False
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop serve_forever's loop (running in another thread) and wait until it has."""
        self._stopping = True
        self._wake[1].send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        for end in self._wake:
            end.close()

    def get_request(self) -> tuple[socket.socket, object]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                # out of file descriptors: free one rather than spin on a listener that stays readable
                self.connections.make_room(force=True)
                time.sleep(0.01)
            raise

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        self.connections.make_room()
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        self.connections.remove(request)
        super().shutdown_request(request)

    def service_actions(self) -> None:
        """Run by serve_forever's loop at least every SWEEP_PERIOD: close connections past their deadline."""
        self.connections.sweep()

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class MetricsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, a kept-alive client's delayed ACK
    # would add ~40 ms to every scrape.
    disable_nagle_algorithm = True
    timeout = REQUEST_DEADLINE  # each read or write; the whole request's deadline is the sweep's
    server: ExporterServer
    server_version = f"edgemeter-exporter/{__version__}"
    _not_tls = False
    _requests = 0

    def setup(self) -> None:
        tls = self.server.web.tls
        if tls is not None:
            raw = self.request
            raw.settimeout(self.timeout)
            try:
                first = raw.recv(1, socket.MSG_PEEK)
            except OSError:
                first = b""
            if first and first[0] != TLS_HANDSHAKE:
                self._not_tls = True
            else:
                # the handshake, bounded like a request; the TLS socket takes over the descriptor
                self.request = tls.wrap_socket(raw, server_side=True)
                self.server.connections.replace(raw, self.request)
        super().setup()

    def handle(self) -> None:
        if self._not_tls:
            self.wfile.write(NOT_TLS)
            return
        super().handle()

    def finish(self) -> None:
        super().finish()
        if isinstance(self.request, ssl.SSLSocket):  # the raw socket the server closes gave its fd away
            self.server.connections.remove(self.request)
            self.request.close()

    def _request_waiting(self) -> bool:
        """Whether the next request's first byte is here (buffered or on the socket), without blocking."""
        sock = self.connection
        sock.setblocking(False)
        try:
            return bool(self.rfile.peek(1))
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        finally:
            sock.settimeout(self.timeout)

    def handle_one_request(self) -> None:
        conns = self.server.connections
        try:
            if self._requests:  # kept alive: idle until the next request's first byte
                conns.idle(self.connection)
                if not self._request_waiting():
                    waiting = select.poll()
                    waiting.register(self.connection, select.POLLIN | select.POLLPRI)
                    if not waiting.poll(conns.idle_timeout * 1000):
                        self.close_connection = True
                        return
                conns.reading(self.connection)
            self._requests += 1
            super().handle_one_request()
        except (ssl.SSLError, ConnectionError, TimeoutError, ValueError):
            self.close_connection = True

    def parse_request(self) -> bool:
        """The request line and header fields (exporter/http_request.py); False, with the error
        already answered, for a request this server does not take."""
        self.command = None
        self.request_version = "HTTP/1.0"  # what an error answer before the version is known speaks
        self.close_connection = True
        self.requestline = line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split()
        if not words:
            return False
        if len(words) != 3:
            self.send_error(400, f"Bad request syntax ({line[:80]!r})")
            return False
        command, path, version = words
        number = http_version(version)
        if number is None:
            self.send_error(400, f"Bad request version ({version[:20]!r})")
            return False
        if number >= (2, 0):
            self.send_error(505, f"Invalid HTTP version ({version[:20]})")
            return False
        self.request_version = version
        self.command = command
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        try:
            self.headers = read_headers(self.rfile)  # type: ignore[assignment]
        except CutHead:
            return False
        except BadHead as exc:
            self.send_error(exc.status, str(exc))
            return False
        connection = (self.headers.get("Connection") or "").lower()
        self.close_connection = connection == "close" or (number < (1, 1) and connection != "keep-alive")
        if (self.headers.get("Expect") or "").lower() == "100-continue" and number >= (1, 1):
            return self.handle_expect_100()
        return True

    def _drain_body(self) -> bool:
        """Read and drop a request's body so the next request starts where it should; False (the
        connection ends after the answer) for a body too large or of unknown length."""
        if self.headers.get("Transfer-Encoding"):
            return False
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            return False
        remaining = int(length)
        while remaining:
            chunk = self.rfile.read(min(remaining, 16384))
            if not chunk:
                return False
            remaining -= len(chunk)
        return True

    def do_GET(self) -> None:
        if not self._drain_body():
            self.close_connection = True
        self.server.connections.answering(self.connection)
        web = self.server.web
        if not web.auth.check(self.headers.get("Authorization")):
            self._send(401, b"Unauthorized\n", "text/plain", 'WWW-Authenticate: Basic realm="edgemeter"\r\n')
            return
        url = urlsplit(self.path)
        if url.path == "/metrics":
            # Always the text format, as node_exporter does by default: OpenMetrics would cost
            # more per scrape and our families gain nothing from it.
            only = parse_qs(url.query).get("collect[]")
            try:
                body = self.server.scrapes.page(only)
            except UnknownCollector as exc:
                self._send(400, f"{exc}\n".encode(), "text/plain")
                return
            self._send(200, body, CONTENT_TYPE, gzip_ok="gzip" in self.headers.get("Accept-Encoding", ""))
        elif url.path == "/samples" and self.server.samples is not None:
            try:
                body = self.server.samples(url.query)
            except BadQuery as exc:
                self._send(400, f"{exc}\n".encode(), "text/plain")
                return
            gzip_ok = "gzip" in self.headers.get("Accept-Encoding", "")
            self._send(200, body, "application/json", gzip_ok=gzip_ok)
        elif url.path == "/":
            self._send(200, self.server.landing().encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"Not Found: try /metrics or /samples\n", "text/plain")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra: str = "",
        gzip_ok: bool = False,
    ) -> None:
        """The answer, head and body in one write: one segment, so the client wakes once per answer.
        The head is written here, not by send_response/send_header, which format the date and
        encode each line on their own: about 5 % of a Pi page's CPU (docs/performance.md)."""
        self.log_request(status)
        encoding = ""
        if gzip_ok:
            body = gzip.compress(body, compresslevel=1)
            encoding = "Content-Encoding: gzip\r\n"
        reason = self.responses[status][0]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nServer: {self.server_version}\r\nDate: {http_date()}\r\n"
            f"Content-Type: {content_type}\r\n{encoding}Content-Length: {len(body)}\r\n{extra}"
        )
        self.wfile.write(b"".join((head.encode(), self.server.head, b"\r\n", body)))

    def log_message(self, format: str, *args: object) -> None:
        if log.isEnabledFor(logging.DEBUG):  # every answer is logged: format only when it shows
            log.debug("%s %s", self.address_string(), format % args)


def landing_page(board: str, collectors: list[str]) -> Callable[[], str]:
    """The ``/`` page: what this exporter is and which collectors it runs."""
    items = "".join(f"<li>{html.escape(c)}</li>" for c in collectors)
    page = (
        "<!doctype html><html><head><title>edgemeter exporter</title></head><body>"
        f"<h1>edgemeter exporter {__version__}</h1><p>Board: {html.escape(board)}</p>"
        f'<p><a href="/metrics">Metrics</a> · <a href="/samples">Power samples</a></p>'
        f"<p>Collectors:</p><ul>{items}</ul></body></html>"
    )
    return lambda: page

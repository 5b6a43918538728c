"""HTTP(S) server for ``/metrics`` and a landing page at ``/``.

Our own small server rather than prometheus_client's ``start_http_server`` because we need
basic auth, a landing page, and HTTP/1.1 keep-alive (Prometheus keeps its scrape connection
open; a new TCP+TLS handshake per scrape would cost the measured board more than the scrape).
One thread per connection, so concurrent scrapes never wait on each other.
"""

from __future__ import annotations

import gzip
import html
import logging
import socket
import ssl
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from edgemeter.exporter import __version__
from edgemeter.exporter.exposition import CONTENT_TYPE
from edgemeter.exporter.registry import Scrapes, UnknownCollector
from edgemeter.exporter.webconfig import WebConfig

log = logging.getLogger(__name__)


class ExporterServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 50+ parallel scrapes must not hit the default backlog of 5

    def __init__(
        self,
        address: tuple[str, int],
        scrapes: Scrapes,
        web: WebConfig,
        landing: Callable[[], str],
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.scrapes = scrapes
        self.web = web
        self.landing = landing
        super().__init__(address, MetricsHandler)
        if web.tls is not None:
            # Handshake lazily in the connection's own thread, not in the accept loop.
            self.socket = web.tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class MetricsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, a kept-alive client's delayed ACK
    # would add ~40 ms to every scrape.
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are closed after a minute
    server: ExporterServer
    server_version = f"edgemeter-exporter/{__version__}"

    def do_GET(self) -> None:
        web = self.server.web
        if not web.auth.check(self.headers.get("Authorization")):
            self._send(401, b"Unauthorized\n", "text/plain", {"WWW-Authenticate": 'Basic realm="edgemeter"'})
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
        elif url.path == "/":
            self._send(200, self.server.landing().encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"Not Found: try /metrics\n", "text/plain")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra: dict[str, str] | None = None,
        gzip_ok: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if gzip_ok:
            body = gzip.compress(body, compresslevel=1)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**self.server.web.headers, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def landing_page(board: str, collectors: list[str]) -> Callable[[], str]:
    """The ``/`` page: what this exporter is and which collectors it runs."""
    items = "".join(f"<li>{html.escape(c)}</li>" for c in collectors)
    page = (
        "<!doctype html><html><head><title>edgemeter exporter</title></head><body>"
        f"<h1>edgemeter exporter {__version__}</h1><p>Board: {html.escape(board)}</p>"
        f'<p><a href="/metrics">Metrics</a></p><p>Collectors:</p><ul>{items}</ul></body></html>'
    )
    return lambda: page

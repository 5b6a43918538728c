"""Safe on an open network, against a real exporter process on loopback: more idle connections
than it has file descriptors, a client trickling its request, a body on a kept-alive connection,
and basic auth under a password flood."""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from edgemeter.exporter import webconfig
from edgemeter.exporter.cli import assemble
from edgemeter.exporter.connections import Connections
from edgemeter.exporter.server import ExporterServer
from edgemeter.exporter.webconfig import BasicAuth, WebConfig

from boardtrees import BOARDS
from conftest import board_config
from helpers import exporter_cmd, free_port, running

FD_LIMIT = 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


@pytest.fixture
def exporter(tmp_path) -> Iterator[tuple[int, int]]:
    """(port, pid) of a real exporter limited to 1,024 open files."""
    board = BOARDS["x86_laptop"](tmp_path / "x86")
    port = free_port()
    cmd = exporter_cmd(
        "--listen", f"127.0.0.1:{port}", "--sysfs", str(board.sysfs), "--procfs", str(board.procfs)
    )
    with running(["sh", "-c", f'ulimit -n {FD_LIMIT} && exec "$@"', "sh", *cmd], port) as proc:
        yield port, proc.pid


def timed_scrape(port: int, timeout: float = 5.0) -> float:
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        assert resp.status == 200 and b"edge_board_info" in resp.read()
    finally:
        conn.close()
    return time.monotonic() - start


def test_more_idle_connections_than_file_descriptors_never_stop_a_scrape(exporter) -> None:
    port, pid = exporter
    idle: list[socket.socket] = []
    try:
        for _ in range(1100):
            with contextlib.suppress(OSError):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        time.sleep(0.5)  # let it accept what it will
        took = [timed_scrape(port) for _ in range(3)]
        assert max(took) < 1.0, took
        before = cpu_seconds(pid)
        time.sleep(2.0)
        # the accept loop does not spin on a listener it cannot accept from
        assert cpu_seconds(pid) - before < 0.3
        assert timed_scrape(port) < 1.0
    finally:
        for s in idle:
            s.close()


def test_a_trickling_client_never_delays_a_scrape(exporter) -> None:
    port, _ = exporter
    stop = threading.Event()

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\n":
                if stop.wait(0.3):
                    return
                with contextlib.suppress(OSError):
                    s.send(bytes([byte]))

    slow = [threading.Thread(target=trickle) for _ in range(20)]
    for t in slow:
        t.start()
    try:
        time.sleep(0.5)
        assert max(timed_scrape(port) for _ in range(3)) < 1.0
    finally:
        stop.set()
        for t in slow:
            t.join()


@contextlib.contextmanager
def in_process(tmp_path, deadline: float, cap: int | None = None) -> Iterator[int]:
    """Our server in this process, with a short request deadline (the real one is 10 s)."""
    board = BOARDS["x86_laptop"](tmp_path / "x86")
    parts = assemble(board_config(board), ["board_info", "meminfo"])
    conns = Connections(cap=cap, idle_timeout=30.0, request_deadline=deadline)
    server = ExporterServer(
        ("127.0.0.1", 0), parts.scrapes, WebConfig(None, BasicAuth({})), lambda: "", conns
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_request_must_arrive_whole_within_its_deadline(tmp_path) -> None:
    with in_process(tmp_path, deadline=0.6) as port, socket.create_connection(("127.0.0.1", port)) as s:
        start = time.monotonic()
        cut = None
        for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                s.send(bytes([byte]))
                s.settimeout(0.1)
                if s.recv(1) == b"":
                    cut = time.monotonic() - start
                    break
            except TimeoutError:
                continue
            except OSError:
                cut = time.monotonic() - start
                break
        # cut at its deadline although it kept sending (a per-read timeout would never fire)
        assert cut is not None and 0.5 < cut < 1.5, cut


def test_at_the_cap_the_longest_idle_connection_makes_room(tmp_path) -> None:
    with in_process(tmp_path, deadline=5.0, cap=16) as port:
        kept = []
        for _ in range(16):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/metrics")
            c.getresponse().read()
            kept.append(c)  # now idle, kept alive
        assert timed_scrape(port) < 1.0  # the 17th: the oldest idle one was closed for it
        kept[0].request("GET", "/metrics")
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            kept[0].getresponse()
        for c in kept:
            c.close()


def answer(reader) -> int:
    """One HTTP/1.1 answer off a buffered stream: its status (the body is read past)."""
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    reader.read(length)
    return status


def test_a_request_body_is_drained_before_the_next_request(exporter) -> None:
    port, _ = exporter
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        reader = s.makefile("rb")
        statuses = [answer(reader) for _ in range(2)]
    assert statuses == [200, 200]


# --- request heads (exporter/http_request.py) ------------------------------------------------


def head_status(port: int, head: bytes) -> int | None:
    """The status our server answers to a raw request head, or None when it answers nothing."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head)
        s.shutdown(socket.SHUT_WR)
        first = s.makefile("rb").readline()
    return int(first.split()[1]) if first else None


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200),
        (b"GET /metrics HTTP/1.0\r\n\r\n", 200),
        (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
        (b"GET /metrics HTTX/1.1\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.x\r\n\r\n", 400),
        (b"GET /metrics\r\n\r\n", 400),
        (b"GET / metrics HTTP/1.1\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"GET /metrics HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Cut: a", None),  # the head never ends
    ],
)
def test_each_request_head_gets_its_answer(tmp_path, head: bytes, status: int | None) -> None:
    with in_process(tmp_path, deadline=5.0) as port:
        assert head_status(port, head) == status


def test_header_names_are_case_insensitive_and_the_first_repeat_counts(tmp_path) -> None:
    with in_process(tmp_path, deadline=5.0) as port, socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"GET /metrics HTTP/1.1\r\nhost: x\r\naccept-ENCODING:\tgzip \r\n"
            b"Accept-Encoding: identity\r\nCONNECTION: close\r\n\r\n"
        )
        answered = b"".join(iter(lambda: s.recv(65536), b""))  # "close": the server ends it
    head = answered.split(b"\r\n\r\n", 1)[0].lower()
    assert b"content-encoding: gzip" in head  # and the join above ended: "close" was honoured


# --- basic auth --------------------------------------------------------------------------------


def header(user: str, password: str, scheme: str = "Basic") -> str:
    return f"{scheme} " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def auth() -> BasicAuth:
    hashes = {
        "prometheus": bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=10)),
        # htpasswd -B hashes what bcrypt reads of a long password: its first 72 bytes
        "long": bcrypt.hashpw(("p" * 72).encode(), bcrypt.gensalt(rounds=10)),
    }
    return BasicAuth(hashes)


def test_a_password_longer_than_72_bytes_checks_as_htpasswd_made_it(auth: BasicAuth) -> None:
    assert auth.check(header("long", "p" * 100))
    assert not auth.check(header("long", "q" + "p" * 99))


def test_the_scheme_name_is_case_insensitive(auth: BasicAuth) -> None:
    assert auth.check(header("prometheus", "s3cret", "basic"))
    assert auth.check(header("prometheus", "s3cret", "BASIC"))
    assert not auth.check(header("prometheus", "s3cret", "Bearer"))


def test_unknown_users_cost_what_wrong_passwords_cost(auth: BasicAuth) -> None:
    def took(h: str) -> float:
        start = time.perf_counter()
        assert not auth.check(h)
        return time.perf_counter() - start

    wrong = min(took(header("prometheus", f"wrong{i}")) for i in range(3))
    unknown = min(took(header(f"nobody{i}", "s3cret")) for i in range(3))
    assert 0.5 < unknown / wrong < 2.0, (unknown, wrong)  # a bcrypt each: no user enumeration
    assert took(header("nobody0", "s3cret")) < wrong / 10  # a failure is remembered


def test_a_password_flood_runs_one_bcrypt_at_a_time_and_never_starves_a_known_scraper(
    auth: BasicAuth, monkeypatch
) -> None:
    assert auth.check(header("prometheus", "s3cret"))  # the scraper, verified once
    busy, most = [0], [0]
    lock = threading.Lock()
    real = webconfig.bcrypt.checkpw

    def counted(password: bytes, hashed: bytes) -> bool:
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        try:
            return real(password, hashed)
        finally:
            with lock:
                busy[0] -= 1

    monkeypatch.setattr(webconfig.bcrypt, "checkpw", counted)
    flood = [threading.Thread(target=auth.check, args=(header("prometheus", f"guess{i}"),)) for i in range(8)]
    for t in flood:
        t.start()
    time.sleep(0.05)
    start = time.perf_counter()
    assert auth.check(header("prometheus", "s3cret"))
    assert time.perf_counter() - start < 0.05  # a lookup, not a wait behind the flood's bcrypts
    for t in flood:
        t.join()
    assert most[0] == 1

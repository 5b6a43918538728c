"""``/metrics?collect[]=NAME`` (node_exporter's filter) against a real exporter process, and the
runner's edge reads asking for the energy collectors and the board only."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import threading
import time
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edgemeter.exporter.collectors import EDGE_READ
from edgemeter.runner import exporter_client
from edgemeter.runner.exporter_client import ExporterClient, ExporterError, filtered, parse_page
from edgemeter.runner.span_energy import history

from boardtrees import BOARDS
from helpers import exporter_on, get, samples, select


@pytest.fixture
def orin_url(tmp_path):
    with exporter_on(BOARDS["jetson_orin"](tmp_path / "orin")) as url:
        yield url


def collectors_of(text: str) -> set[str]:
    return {dict(k)["collector"] for k in select(samples(text), "edge_collector_success")}


def test_only_the_named_collectors_are_read_and_served(orin_url: str) -> None:
    whole = get(f"{orin_url}/metrics")
    assert {"cpu", "meminfo", "ina3221", "thermal_zone"} <= collectors_of(whole)
    page = get(f"{orin_url}/metrics?collect[]=cpu&collect[]=meminfo")
    assert collectors_of(page) == {"cpu", "meminfo"}
    names = {n for n, _ in samples(page)}
    assert "edge_cpu_seconds_total" in names and "edge_memory_total_bytes" in names
    assert not any(n.startswith(("edge_temperature", "edge_power", "edge_exporter_")) for n in names)
    if shutil.which("promtool"):
        done = subprocess.run(["promtool", "check", "metrics"], input=page, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr + done.stdout


def test_a_collector_it_does_not_run_is_a_400_naming_it(orin_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        get(f"{orin_url}/metrics?collect[]=cpu&collect[]=pmic")  # pmic: a Pi's, not run on an Orin
    assert info.value.code == 400
    body = info.value.read().decode()
    assert body.startswith("collect[]=pmic: not a collector this exporter runs (it runs: board_info")


def test_the_runners_edge_reads_ask_for_energy_and_the_board_only(orin_url: str) -> None:
    client = ExporterClient(f"{orin_url}/metrics")
    first = client.read()
    assert len(first.collectors) > 5 and first.board is not None
    edge = client.read()
    assert set(edge.collectors) == {c for c in EDGE_READ if c in first.collectors}
    assert set(edge.collectors) >= {"board_info", "ina3221"} and "cpu" not in edge.collectors
    assert edge.energy.keys() == first.energy.keys() and edge.board == first.board
    assert edge.input_rail_candidates == first.input_rail_candidates
    assert all(edge.energy[r] >= first.energy[r] for r in first.energy)


def test_an_exporter_restarted_with_other_collectors_is_read_whole_again(orin_url: str) -> None:
    client = ExporterClient(f"{orin_url}/metrics")
    client.read()
    client._edge_url = filtered(client.url, ("board_info", "pmic"))  # as if pmic had been run before
    page = client.read()  # 400: read whole, and learn the collectors again
    assert "cpu" in page.collectors and client._edge_url is not None and "pmic" not in client._edge_url
    assert "ina3221" in client.read().collectors


def test_filtered_keeps_a_query_the_url_had() -> None:
    assert filtered("http://h:1/metrics", ("a", "b")) == "http://h:1/metrics?collect%5B%5D=a&collect%5B%5D=b"
    assert filtered("http://h:1/m?x=1", ("a",)) == "http://h:1/m?x=1&collect%5B%5D=a"


def test_a_400_is_an_exporter_error_with_its_status(orin_url: str) -> None:
    client = ExporterClient(f"{orin_url}/nothing-here")
    with pytest.raises(ExporterError) as info:
        client.read()
    assert info.value.status == 404
    assert parse_page("").collectors == ()


def test_reads_from_many_threads_share_kept_alive_connections(orin_url: str, monkeypatch) -> None:
    """The first-token read runs on a new thread at every prompt: with a connection per thread,
    each prompt cost the exporter a handshake and a handler thread."""
    opened: list[int] = []
    connect = http.client.HTTPConnection.connect
    monkeypatch.setattr(
        http.client.HTTPConnection, "connect", lambda conn: (opened.append(1), connect(conn))[1]
    )
    client = ExporterClient(f"{orin_url}/metrics")
    client.read()
    for _ in range(5):  # one first-token read per prompt, each on a thread of its own
        reader = threading.Thread(target=client.read)
        reader.start()
        reader.join()
    assert len(opened) == 1


class _ClosesAfterEachAnswer(BaseHTTPRequestHandler):
    """An exporter that drops every kept-alive connection once idle (its idle limit, a restart)."""

    protocol_version = "HTTP/1.1"
    page = b'edge_board_info{board="b"} 1\nedge_energy_joules_total{rail="VDD_IN",source="ina3221"} 5\n'

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)
        self.close_connection = True  # without saying so: the client finds out at its next request

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_connections_the_exporter_closed_while_idle_are_replaced() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ClosesAfterEachAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = ExporterClient(f"http://127.0.0.1:{server.server_address[1]}/metrics")
        readers = [threading.Thread(target=client.read) for _ in range(3)]
        for reader in readers:  # several idle connections in the pool, all of them closed
            reader.start()
        for reader in readers:
            reader.join()
        for _ in range(3):
            assert client.read().board == {"board": "b"}
    finally:
        server.shutdown()
        server.server_close()


def test_a_just_ended_windows_samples_cost_the_exporter_one_request(orin_url: str, monkeypatch) -> None:
    """Each prompt's energy asked /samples up to four times (the clock offset, the window, and
    both again once the sample after the window's end was in); now the offset is remembered for
    OFFSET_MAX_AGE and, the rate known, the wait comes first: one request a prompt."""
    client = ExporterClient(f"{orin_url}/metrics")
    client.read()
    asked: list[str] = []
    get = client._get
    monkeypatch.setattr(client, "_get", lambda url: (asked.append(url), get(url))[1])
    end = time.time()
    history(client, [(end - 1.0, end)])  # learns the offset and the rails' rate
    asked.clear()
    for _ in range(3):
        end = time.time()
        got = history(client, [(end - 1.0, end)])
        assert got and all(rail.t[-1] >= end for rail in got.values())  # the window's end is covered
    assert len(asked) == 3 and all("/samples?" in url for url in asked)
    monkeypatch.setattr(exporter_client, "OFFSET_MAX_AGE", 0.0)
    end = time.time()
    history(client, [(end - 1.0, end)])
    assert len(asked) == 5  # the offset measured again once it is old

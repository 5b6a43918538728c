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

from edgemeter.exporter.collectors import EDGE_READ, ENERGY_COLLECTORS
from edgemeter.runner import exporter_client
from edgemeter.runner.exporter_client import ExporterClient, ExporterError, ExporterPage, filtered, parse_page
from edgemeter.runner.span_energy import history

from boardtrees import BOARDS, write_tree
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
    # hwmon runs on an Orin (fan, temperatures) but serves no energy counter: not asked
    assert "hwmon" in first.collectors and set(edge.collectors) == {"board_info", "ina3221"}
    assert edge.energy.keys() == first.energy.keys() and edge.board == first.board
    assert edge.input_rail_candidates == first.input_rail_candidates
    assert all(edge.energy[r] >= first.energy[r] for r in first.energy)


def test_every_energy_collector_is_asked_again_after_a_while(orin_url: str, monkeypatch) -> None:
    """A rail that appears later (a meter plugged in, a sampler's first reading) is found."""
    client = ExporterClient(f"{orin_url}/metrics")
    first = client.read()
    assert set(client.read().collectors) == {"board_info", "ina3221"}
    later = time.monotonic() + exporter_client.WIDEN_AFTER + 1
    monkeypatch.setattr(exporter_client.time, "monotonic", lambda: later)
    wide = client.read()
    assert set(wide.collectors) == {c for c in EDGE_READ if c in first.collectors}
    assert "hwmon" in wide.collectors
    assert set(client.read().collectors) == {"board_info", "ina3221"}  # narrowed again, for a while


def test_a_counter_missing_from_a_narrowed_read_widens_the_next(orin_url: str) -> None:
    client = ExporterClient(f"{orin_url}/metrics")
    client.read()
    assert client._narrow is not None
    url, served, until = client._narrow
    client._narrow = (url, served | {("hwmon", "gone")}, until)  # as if it had served one more
    assert set(client.read().collectors) == {"board_info", "ina3221"}
    assert "hwmon" in client.read().collectors  # the one it missed: every energy collector again


def test_no_counter_yet_is_no_narrowing(tmp_path) -> None:
    """A Pi whose PMIC has not been sampled yet serves no counter: asking only the board until
    the next widening would leave a minute of prompts without energy."""
    client = ExporterClient("http://127.0.0.1:1/metrics")
    client._runs = ("board_info", "cpu", "pmic", "hwmon")
    client._learn(ExporterPage())
    assert client._narrow is None
    client._learn(ExporterPage(rails=(("pmic", "total"),)))
    assert client._narrow is not None and "pmic" in client._narrow[0] and "hwmon" not in client._narrow[0]
    client._learn(ExporterPage(rails=(("pmic", "total"), ("elsewhere", "x"))))
    assert client._narrow is None  # a source no collector is named for: never narrowed away


@pytest.mark.parametrize("board", ["jetson_orin", "x86_laptop"])
def test_every_energy_counter_is_labelled_with_its_collectors_name(tmp_path, board: str) -> None:
    """The runner narrows its edge reads by the ``source`` of the counters a read served: a
    source that is not its collector's name would be narrowed away, its rail's energy lost."""
    tree = BOARDS[board](tmp_path / board)
    write_tree(
        tree.sysfs,
        {"class/hwmon/hwmon8/name": "amd_energy\n", "class/hwmon/hwmon8/energy1_input": "123456789\n"},
    )
    with exporter_on(tree) as url:
        client = ExporterClient(f"{url}/metrics")
        first = client.read()
        sources = {source for source, _ in first.rails}
        assert "hwmon" in sources and len(sources) == 2, sources
        assert sources <= set(ENERGY_COLLECTORS) & set(first.collectors)
        edge = client.read()
        assert edge.energy.keys() == first.energy.keys()
        assert set(edge.collectors) < set(first.collectors)


def test_an_exporter_restarted_with_other_collectors_is_read_whole_again(orin_url: str) -> None:
    client = ExporterClient(f"{orin_url}/metrics")
    client.read()
    client._narrow = None
    client._wide = filtered(client.url, ("board_info", "pmic"))  # as if pmic had been run before
    page = client.read()  # 400: read whole, and learn the collectors again
    assert "cpu" in page.collectors and client._wide is not None and "pmic" not in client._wide
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

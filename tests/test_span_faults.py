"""What the review of the spans work found, each pinned: a remote exporter's clock, rail keys
that must match the page's, span files as people write them, bad URLs and labels, a reused span,
and parser margins."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from fake_http import LocalServer

import edgemeter
from edgemeter.runner.exporter_client import ExporterClient
from edgemeter.runner.exposition_parse import samples as page_samples
from edgemeter.runner.span_files import SpanFileError, read_spans

from helpers import read_jsonl, run_runner

SKEW = 100.0  # the exporter's board is 100 s ahead of this machine
PAGE = (
    b'edge_board_info{family="jetson",model="M",soc="s",kernel="k"} 1\n'
    b'edge_energy_joules_total{rail="VDD_IN",source="ina3221"} 12.5\n'
    b'edge_energy_joules_total{rail="VDD_IN",source="nvml"} 3.0\n'  # a counter rail of the same name
)


class _RemoteExporter(BaseHTTPRequestHandler):
    """An exporter on a board whose clock runs SKEW s ahead: its samples in its own clock."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/samples"):
            now = time.time() + SKEW
            t = [now - 1.0 + 0.1 * k for k in range(10)]
            rail = {
                "labels": {"rail": "VDD_IN", "source": "ina3221"},
                "oldest": t[0],
                "t": t,
                "watts": [5.0] * 10,
            }
            source = {
                "collector": "ina3221",
                "sample_hz": 10.0,
                "sensor_interval_seconds": None,
                "rails": [rail],
            }
            body = {"now": now, "history_seconds": 600, "sources": [source]}
            data = json.dumps(body).encode()
        else:
            data = PAGE
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_a_remote_exporters_samples_come_back_in_this_machines_clock_keyed_as_its_page() -> None:
    with LocalServer(_RemoteExporter) as server:
        client = ExporterClient(server.url + "/metrics")
        page = client.read()
        assert set(page.energy) == {"ina3221:VDD_IN", "nvml:VDD_IN"}
        got = client.samples(time.time() - 2, time.time())
    [(key, rail)] = got.items()
    assert key == "ina3221:VDD_IN"  # the page's key, not a bare VDD_IN that matches nothing
    assert abs(rail.t[-1] - (time.time() - 0.1)) < 0.5  # not 100 s in the future


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("name,start,end\n\nx,1,2\n\ny,1,soon\n", "spans.csv:5: end 'soon'"),  # blank lines counted
        ("\ufeffname,start,end\nx,1,2\n", None),  # a spreadsheet's BOM
        ('{"name": "x", "start": 1e999999, "end": 2}\n', "spans.csv:1: start"),
        ('{"name": "x", "start": 1, "end": 2}\n', None),  # one JSONL line is JSONL, not a trace
        (
            json.dumps(
                {
                    "deviceProperties": ["x" * 5000],
                    "traceEvents": [{"ph": "X", "name": "a", "ts": 1, "dur": 2}],
                }
            ),
            None,
        ),
    ],
)
def test_span_files_as_people_write_them(tmp_path: Path, text: str, why: str | None) -> None:
    path = tmp_path / "spans.csv"
    path.write_text(text, encoding="utf-8")
    if why is None:
        assert len(read_spans(path)) == 1
    else:
        with pytest.raises(SpanFileError) as error:
            read_spans(path)
        assert why in str(error.value)


def test_a_bad_exporter_url_leaves_energy_empty_and_the_command_runs(tmp_path: Path) -> None:
    done = run_runner(
        "wrap", "--exporter-url", "localhost:abc", "--results", str(tmp_path), "--no-push", "--", "true"
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr
    [rec] = read_jsonl(tmp_path / "wrap.jsonl")
    assert rec["energy_joules"] is None and "not a URL it can reach" in rec["energy_note"]


def test_a_reserved_label_is_refused_before_the_command_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    done = run_runner(
        "wrap", "--label", "__x=1", "--results", str(tmp_path), "--no-push", "--", "touch", str(marker)
    )
    assert done.returncode == 2 and "--label '__x=1'" in done.stderr and not marker.exists()
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_file_that_cannot_be_executed_is_126(tmp_path: Path) -> None:
    script = tmp_path / "no-shebang"
    script.write_bytes(b"\x7fELF garbage")
    script.chmod(0o755)
    done = run_runner("wrap", "--results", str(tmp_path), "--no-push", "--", str(script))
    assert done.returncode == 126 and "cannot run it" in done.stderr and "Traceback" not in done.stderr


def test_a_reused_span_starts_anew_and_cannot_nest(monkeypatch) -> None:
    monkeypatch.delenv("EDGEMETER_EXPORTER_URL", raising=False)
    s = edgemeter.span("frame", exporter_url="http://127.0.0.1:9")
    with s:
        pass
    s.energy_joules, s.note = 1.0, None  # as if the first block had measured
    with s:
        pass
    assert s.energy_joules is None and "127.0.0.1:9" in (s.note or "")
    with s, pytest.raises(RuntimeError, match="already measuring"), s:
        pass


def test_parser_margins() -> None:
    crlf = 'a{x="1"} 2\r\n  b 3\r\n'
    assert list(page_samples(crlf)) == [("a", {"x": "1"}, 2.0), ("b", {}, 3.0)]
    assert list(page_samples('m{a="1"}1\n')) == [("m", {"a": "1"}, 1.0)]
    with pytest.raises(ValueError):
        list(page_samples("x 1_000\n"))

"""Energy by phase (prefill to the first token, decode after it), above the board's idle power,
and answers graded: against the real exporter on the Orin tree whose power the test drives."""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_ollama import FakeOllama

from edgemeter.runner import phases
from edgemeter.runner.score import score
from edgemeter.runner.window_energy import RailSamples

from boardtrees import BOARDS
from helpers import driven, exporter_on, held_integral, read_jsonl, run_runner

STEP = 0.01  # the "sensor" changes every 10 ms
PERIOD = 2.0  # a 2 s sine: prefill and decode see different power


def amps(t: float) -> float:
    return round(1.2 + 0.6 * math.sin(2 * math.pi * t / PERIOD), 3)


def exact(volts: float, t0: float, t1: float) -> float:
    return volts * held_integral(amps, STEP, t0, t1)


def test_split_takes_the_late_first_read_back_at_the_decodes_own_power() -> None:
    before, first, after = {"VDD_IN": 10.0}, {"VDD_IN": 16.05}, {"VDD_IN": 36.05}
    # the first-token read came 10 ms after the token; decode ran at (36.05 - 16.05) / 2 s = 10 W
    prefill, decode = phases.split(before, first, after, "VDD_IN", 100.0, 100.01, 102.01)
    assert prefill == pytest.approx(6.05 - 0.1) and prefill + decode == pytest.approx(26.05)
    assert phases.split(before, {}, after, "VDD_IN", 100.0, 100.01, 102.01) is None
    assert phases.above_idle(26.05, 3.0, 2.0) == pytest.approx(20.05)
    assert phases.above_idle(26.05, None, 2.0) is None


@pytest.mark.parametrize(
    ("expected", "reply", "mode", "got"),
    [
        ("blue", "The sky looks BLUE because", "contains", 1),
        ("red  ONES", "more than red\nones .", "contains", 1),
        ("green", "The sky looks blue", "contains", 0),
        ("Paris", "  Paris\n", "exact", 1),
        ("Paris", "Paris, France", "exact", 0),
        (r"\b4\d\b", "the answer is 42.", "regex", 1),
        (r"^\d+$", "forty-two", "regex", 0),
        (None, "anything", "contains", None),
    ],
)
def test_score_modes(expected, reply, mode, got) -> None:
    assert score(expected, reply, mode) == got


@pytest.fixture
def driven_orin(tmp_path):
    """The Orin tree with VDD_IN's current following a 2 s sine in Unix time."""
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    chip = (orin.sysfs / "bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1").resolve()
    volts = int((chip / "in1_input").read_text()) / 1000
    with driven(chip / "curr1_input", amps, STEP):
        yield orin, volts


def test_prefill_and_decode_energy_each_match_the_exact_integral(tmp_path, driven_orin) -> None:
    orin, volts = driven_orin
    prompts = tmp_path / "p.txt"
    prompts.write_text("SLOW LONGPREFILL one\nSLOW LONGPREFILL two\nquick\n")
    results = tmp_path / "results"
    with exporter_on(orin) as url, FakeOllama() as ollama:
        run = run_runner(
            "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m", "--host", ollama.url,
            "--results", str(results), "--max-tokens", "8", "--no-push", "--exporter-url", url,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    [path] = results.glob("*.jsonl")
    *long, quick = read_jsonl(path)
    # a reply of a few tens of ms at the default 10 Hz: bounded, and flagged as too short
    assert quick["energy_too_short"] is True and quick["energy_uncertainty_joules"] > 0
    row = [line for line in run.stderr.splitlines() if line.startswith("3  ")][-1]  # the summary's row
    assert "~" in row and "too short for its sensor" in run.stderr
    for rec in long:
        start, first, end = rec["started_at"], rec["first_token_at"], rec["ended_at"]
        # the bound contains the real error and stays useful (issue 15: at most 10 % from 1 s)
        error = abs(rec["energy_joules"] - exact(volts, start, end))
        print(f"energy error {error:.4f} J, bound {rec['energy_uncertainty_joules']:.4f} J")
        assert error <= rec["energy_uncertainty_joules"] <= 0.10 * rec["energy_joules"]
        assert rec["energy_too_short"] is False
        assert first - start >= 1.0 and end - first >= 1.0  # phases of a second or more
        assert rec["prefill_energy_joules"] + rec["decode_energy_joules"] == pytest.approx(
            rec["energy_joules"]
        )
        want_prefill, want_decode = exact(volts, start, first), exact(volts, first, end)
        prefill, decode = rec["prefill_energy_joules"], rec["decode_energy_joules"]
        print(
            f"prefill {prefill:.4f} J (exact {want_prefill:.4f}), "
            f"decode {decode:.4f} J (exact {want_decode:.4f})"
        )
        assert rec["prefill_energy_joules"] == pytest.approx(want_prefill, rel=0.02)
        assert rec["decode_energy_joules"] == pytest.approx(want_decode, rel=0.02)
        assert rec["decode_joules_per_token"] == pytest.approx(
            rec["decode_energy_joules"] / (rec["output_tokens"] - 1)
        )
        assert rec["energy_above_idle_joules"] is None  # no --idle


class _Counting(BaseHTTPRequestHandler):
    """Forwards every GET to the exporter and notes its path: what the runner asked, in order."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=10)  # type: ignore[attr-defined]
        upstream.request("GET", self.path)
        answer = upstream.getresponse()
        body = answer.read()
        upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "text/plain"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _through_a_counting_proxy(tmp_path, orin, *flags: str) -> tuple[list[str], list[dict]]:
    """Three SLOW LONGPREFILL prompts (about 3 s each) with the runner reading the exporter
    through ``_Counting``: (the paths it asked, in order; the records)."""
    prompts = tmp_path / "p.txt"
    prompts.write_text("SLOW LONGPREFILL one\nSLOW LONGPREFILL two\nSLOW LONGPREFILL three\n")
    results = tmp_path / "results"
    with exporter_on(orin, *flags) as url, FakeOllama() as ollama:
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
        proxy.paths, proxy.upstream = [], int(url.rsplit(":", 1)[1])  # type: ignore[attr-defined]
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            run = run_runner(
                "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m",
                "--host", ollama.url, "--results", str(results), "--max-tokens", "8", "--no-push",
                "--exporter-url", f"http://127.0.0.1:{proxy.server_address[1]}",
            )  # fmt: skip
        finally:
            proxy.shutdown()
            proxy.server_close()
    assert run.returncode == 0, run.stderr
    [path] = results.glob("*.jsonl")
    return proxy.paths, read_jsonl(path)  # type: ignore[attr-defined]


def test_a_sampled_rail_is_split_by_its_samples_with_no_read_at_the_first_token(
    tmp_path, driven_orin
) -> None:
    """Each read costs the measured board a request: where the rail is sampled, the samples the
    bound is taken from anyway split the prompt (exactly, with no late read to take back)."""
    orin, volts = driven_orin
    paths, recs = _through_a_counting_proxy(tmp_path, orin)
    edge = [p for p in paths if p.startswith("/metrics?")]
    # the first prompt: start, first token, end (no /samples answer yet); then start and end
    assert len(edge) == 3 + 2 + 2, paths
    for rec in recs[1:]:
        start, first, end = rec["started_at"], rec["first_token_at"], rec["ended_at"]
        prefill, decode, whole = (
            rec["prefill_energy_joules"],
            rec["decode_energy_joules"],
            rec["energy_joules"],
        )
        assert prefill + decode == pytest.approx(whole)
        # the phases share the prompt's energy (and the reads' slack, slower through the proxy) as
        # the exact integral shares it
        assert prefill / whole == pytest.approx(
            exact(volts, start, first) / exact(volts, start, end), rel=0.02
        )


def test_a_history_too_short_for_the_prompts_keeps_the_first_token_read(tmp_path, driven_orin) -> None:
    """Samples that may not reach back to a prompt's start cannot split it: the counters are
    read at the first token, as for a rail that is not sampled."""
    orin, _ = driven_orin
    paths, recs = _through_a_counting_proxy(tmp_path, orin, "--history-seconds", "12")
    assert len([p for p in paths if p.startswith("/metrics?")]) == 3 * 3, paths
    for rec in recs:  # split by the counters (their accuracy: the test above, with no proxy)
        assert rec["prefill_energy_joules"] > 0 and rec["decode_energy_joules"] > 0
        total = rec["prefill_energy_joules"] + rec["decode_energy_joules"]
        assert total == pytest.approx(rec["energy_joules"])


def test_split_sampled_shares_the_counters_energy_as_the_samples_do() -> None:
    t = [99.0 + k / 10 for k in range(40)]
    rail = RailSamples("VDD_IN", "ina3221", 0.1, None, 99.0, t, [4.0 if x <= 101.0 else 8.0 for x in t])
    # 1 s at 4 W, then 1 s ramping to and at 8 W: the samples give 4 J of 4 + 7.8; the counters, 12.3 J
    prefill, decode = phases.split_sampled({"VDD_IN": rail}, "VDD_IN", 12.3, 100.0, 101.0, 102.0)
    assert prefill == pytest.approx(12.3 * 4.0 / 11.8) and prefill + decode == pytest.approx(12.3)
    assert phases.split_sampled({"VDD_IN": rail}, "VDD_IN+CPU", 12.3, 100.0, 101.0, 102.0) is None
    late = RailSamples("VDD_IN", "ina3221", 0.1, None, 100.5, rail.t, rail.watts)  # history begins later
    assert phases.split_sampled({"VDD_IN": late}, "VDD_IN", 12.3, 100.0, 101.0, 102.0) is None
    gap = RailSamples("VDD_IN", "ina3221", 0.1, None, 99.0, [99.0, 99.1, 105.0], [5.0, 5.0, 5.0])
    assert phases.split_sampled({"VDD_IN": gap}, "VDD_IN", 12.3, 100.0, 101.0, 104.5) is None  # silent


def test_idle_power_and_energy_above_it_and_the_score(tmp_path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")  # constant: VDD_IN 5.080 V x 1.240 A
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        json.dumps({"id": "sky", "prompt": "Why is the sky blue?", "expected": "short BLUE wavelengths"})
        + "\n"
        + json.dumps({"id": "grass", "prompt": "Why is grass green?", "expected": "chlorophyll"})
        + "\n"
        + json.dumps({"id": "free", "prompt": "Say anything."})
        + "\n"
    )
    results = tmp_path / "results"
    with exporter_on(orin) as url, FakeOllama(token_delay=0.05) as ollama:
        run = run_runner(
            "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m", "--host", ollama.url,
            "--results", str(results), "--max-tokens", "16", "--no-push", "--exporter-url", url,
            "--idle", "1",
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "measuring idle power for 1 s" in run.stderr
    meta = json.loads(next(results.glob("*.meta.json")).read_text())
    assert meta["idle_power_watts"] == pytest.approx(5.080 * 1.240, rel=0.01)
    recs = {r["prompt_id"]: r for r in read_jsonl(next(results.glob("*.jsonl")))}
    for rec in recs.values():
        expected = rec["energy_joules"] - meta["idle_power_watts"] * rec["request_duration_seconds"]
        assert rec["energy_above_idle_joules"] == pytest.approx(expected)
        assert abs(rec["energy_above_idle_joules"]) < 0.05 * rec["energy_joules"]  # the board did not change
    assert (recs["sky"]["score"], recs["grass"]["score"], recs["free"]["score"]) == (1, 0, None)


def test_idle_needs_an_exporter(tmp_path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("hello\n")
    run = run_runner("--prompts", str(prompts), "--idle", "5", "--results", str(tmp_path / "r"))
    assert run.returncode == 2 and run.stderr.strip() == (
        "runner: error: --idle needs --exporter-url (the idle power is read from the exporter)"
    )


def test_a_regex_expected_that_is_not_one_is_a_one_line_error(tmp_path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "q", "prompt": "?", "expected": "(unclosed"}) + "\n")
    run = run_runner("--prompts", str(prompts), "--score", "regex", "--results", str(tmp_path / "r"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "prompt q: expected '(unclosed' is not a regular expression" in run.stderr


def test_throttled_is_what_the_firmware_raised_during_the_prompt_not_a_since_boot_flag(tmp_path) -> None:
    pi5 = BOARDS["pi5"](tmp_path / "pi5")
    attr = pi5.sysfs / "devices/platform/soc/soc:firmware/get_throttled"
    attr.parent.mkdir(parents=True)
    attr.write_text("0\n")
    prompts = tmp_path / "p.txt"
    prompts.write_text("SLOW before\nSLOW HOT\nSLOW after\n")
    results = tmp_path / "results"
    done = threading.Event()
    with exporter_on(pi5, "--vcgencmd", str(pi5.vcgencmd)) as url, FakeOllama() as ollama:

        def firmware() -> None:  # throttles mid-way through the HOT prompt, then lets go
            while not done.is_set() and not any("HOT" in r.get("prompt", "") for r in ollama.requests):
                time.sleep(0.02)
            if done.wait(0.6):
                return
            attr.write_text("40004\n")  # throttled now (bit 2), and since boot (bit 18)
            done.wait(0.7)
            attr.write_text("40000\n")  # cleared now; the since-boot bit stays

        driver = threading.Thread(target=firmware)
        driver.start()
        try:
            run = run_runner(
                "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m", "--host",
                ollama.url, "--results", str(results), "--max-tokens", "8", "--no-push",
                "--exporter-url", url,
            )  # fmt: skip
        finally:
            done.set()
            driver.join()
    assert run.returncode == 0, run.stderr
    recs = {r["prompt"]: r for r in read_jsonl(next(results.glob("*.jsonl")))}
    assert [recs[p]["throttled"] for p in ("SLOW before", "SLOW HOT", "SLOW after")] == [False, True, False]
    assert "1 throttled prompt left out (--include-throttled keeps them)" in run.stderr
    assert "2 prompts, 2 measured" in run.stderr


def test_the_hottest_sensor_leaves_out_stuck_and_impossible_readings() -> None:
    from edgemeter.exporter.boards.temperatures import hottest

    # the Nano's PMIC-Die is a constant 100 °C; the Orin Nano's fused-off CV zones read -256 °C
    assert hottest([("PMIC-Die", 100.0), ("CPU-therm", 33.5), ("cv0-thermal", -256.0)]) == 33.5
    assert hottest([("cv0-thermal", -256.0)]) is None


def test_cooldown_waits_for_the_board_to_cool_and_records_it(tmp_path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    zones = [
        z
        for z in (orin.sysfs / "class/thermal").glob("thermal_zone*")
        if "cv" not in (z / "type").read_text()
    ]
    origin, done = time.monotonic(), threading.Event()

    def cool() -> None:  # Newton's cooling from 70 °C towards 40 °C, 4 s time constant
        while not done.is_set():
            celsius = 40 + 30 * math.exp(-(time.monotonic() - origin) / 4.0)
            for z in zones:
                (z / "temp").write_text(f"{round(celsius * 1000)}\n")
            done.wait(0.05)

    driver = threading.Thread(target=cool)
    driver.start()
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\ntwo\n")
    results = tmp_path / "results"
    try:
        with exporter_on(orin) as url, FakeOllama() as ollama:
            run = run_runner(
                "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m", "--host",
                ollama.url, "--results", str(results), "--no-push", "--exporter-url", url,
                "--cooldown-to", "50",
            )  # fmt: skip
    finally:
        done.set()
        driver.join()
    assert run.returncode == 0, run.stderr
    assert "cooling: " in run.stderr and "waiting for 50 °C" in run.stderr
    first, second = read_jsonl(next(results.glob("*.jsonl")))
    # it reaches 50 °C 4.4 s after the start; the runner starts its first prompt after that
    assert first["start_temperature_celsius"] <= 50 and first["cooldown_seconds"] >= 1.0
    assert second["start_temperature_celsius"] <= 50 and second["cooldown_seconds"] < 1.0


def test_cooldown_gives_up_after_its_timeout_with_a_warning(tmp_path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")  # tj-thermal at 47.6 °C, and it stays there
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\n")
    results = tmp_path / "results"
    with exporter_on(orin) as url, FakeOllama() as ollama:
        run = run_runner(
            "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m", "--host",
            ollama.url, "--results", str(results), "--no-push", "--exporter-url", url,
            "--cooldown-to", "30", "--cooldown-timeout", "1.5",
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (
        "warning: not at 30 °C after 1.5 s (--cooldown-timeout): the prompt starts at 47.6 °C" in run.stderr
    )
    [rec] = read_jsonl(next(results.glob("*.jsonl")))
    assert rec["start_temperature_celsius"] == pytest.approx(47.593) and 1.5 <= rec["cooldown_seconds"] < 3

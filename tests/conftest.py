"""Shared fixtures: board trees in tmp_path and in-process exporters over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgemeter.exporter.boards.detect import detect
from edgemeter.exporter.cli import assemble
from edgemeter.exporter.collectors import COLLECTORS
from edgemeter.exporter.config import Config
from edgemeter.exporter.exposition import render
from edgemeter.exporter.sensors.sysfs import KEPT

from boardtrees import BOARDS, BoardTree

PROCESS_PATTERNS = ("ollama", "llama")


@pytest.fixture(autouse=True)
def _kept_files_closed() -> Iterator[None]:
    """Each test starts with no kept attribute files: the kept table is process-wide, and a
    test's tree is gone once it ends."""
    yield
    KEPT.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/*.prom")


def board_config(tree: BoardTree, **overrides: object) -> Config:
    fields: dict = {
        "sysfs": str(tree.sysfs),
        "procfs": str(tree.procfs),
        "rootfs": str(tree.rootfs or tree.sysfs.parent),
        "vcgencmd": str(tree.vcgencmd) if tree.vcgencmd else None,
        "vcgencmd_timeout": 2.0,
        "processes": PROCESS_PATTERNS,
    }
    fields.update(overrides)
    return Config(**fields)


def default_names(config: Config) -> list[str]:
    """The collectors the CLI would enable on this board with --process given."""
    board = detect(config.sysfs, config.procfs)
    # nvml is left out: with a real NVIDIA driver on the test host the goldens would change; NVML
    # is tested through a stand-in (test_nvml.py)
    names = [
        n for n, c in COLLECTORS.items() if board.default_collectors.get(n, c.default_enabled) and n != "nvml"
    ]
    return [*names, "process"] if config.processes and "process" not in names else names


Scrape = Callable[[], str]


def make_scraper(config: Config, names: list[str] | None = None) -> Scrape:
    registry = assemble(config, names if names is not None else default_names(config)).registry
    return lambda: render(registry).decode()


@pytest.fixture(params=sorted(BOARDS))
def board_tree(request: pytest.FixtureRequest, tmp_path: Path) -> BoardTree:
    return BOARDS[request.param](tmp_path / request.param)


@pytest.fixture
def pi5(tmp_path: Path) -> BoardTree:
    return BOARDS["pi5"](tmp_path / "pi5")

"""``exporter capture``: a machine's sensor files copied into a fixture tree that the exporter
serves exactly as it serves the machine, with no secret in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_golden import stable

from edgemeter.exporter.capture import capture

from boardtrees import BOARDS, write_tree
from conftest import board_config, make_scraper

BUILT = sorted(name for name in BOARDS if name != "dev_vm")


@pytest.mark.parametrize("board", BUILT)
def test_a_captured_board_serves_what_the_board_serves(tmp_path: Path, board: str) -> None:
    tree = BOARDS[board](tmp_path / "board")
    done = capture(str(tree.sysfs), str(tree.procfs), tmp_path / "copy", str(tree.sysfs.parent))
    assert done.files > 10 and not done.unreadable
    original = make_scraper(board_config(tree, processes=()))()
    copy_tree = type(tree)(tmp_path / "copy" / "sys", tmp_path / "copy" / "proc", tree.vcgencmd)
    copied = make_scraper(board_config(copy_tree, processes=()))()
    assert stable(copied, tmp_path / "copy") == stable(original, tmp_path / "board")
    if board == "jetson_orin":  # class/hwmon/hwmonN -> ../../devices/...: the layout, not just values
        assert (tmp_path / "copy" / "sys" / "class" / "hwmon" / "hwmon1").is_symlink()


def test_no_secret_is_captured(tmp_path: Path) -> None:
    write_tree(tmp_path / "sys", {
        "class/dmi/id/product_name": "ThinkPad X1\n", "class/dmi/id/product_serial": "PF2ABCDE\n",
        "class/dmi/id/product_uuid": "4c4c4544-0042\n", "class/dmi/id/board_serial": "L1HF\n",
    })  # fmt: skip
    cpuinfo = "processor\t: 0\nmodel name\t: ARM\nSerial\t\t: 10000000a1b2c3d4\n"
    write_tree(tmp_path / "proc", {"cpuinfo": cpuinfo, "stat": "cpu 1 2 3 4 5 6 7 0 0 0\n"})
    done = capture(str(tmp_path / "sys"), str(tmp_path / "proc"), tmp_path / "out")
    assert sorted(done.secrets) == [
        "class/dmi/id/board_serial", "class/dmi/id/product_serial", "class/dmi/id/product_uuid"
    ]  # fmt: skip
    text = b"".join(p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert b"PF2ABCDE" not in text and b"4c4c4544" not in text and b"10000000a1b2c3d4" not in text
    assert b"ThinkPad X1" in text and b"model name\t: ARM" in text


def test_capture_command_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("mine\n")
    cmd = [sys.executable, "-m", "edgemeter.exporter", "capture"]
    busy = subprocess.run([*cmd, str(tmp_path / "out")], capture_output=True, text=True)
    assert busy.returncode == 2 and "not empty" in busy.stderr
    missing = subprocess.run([*cmd, str(tmp_path / "new"), "--sysfs", str(tmp_path / "nope")],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2 and "--sysfs" in missing.stderr and "Traceback" not in missing.stderr

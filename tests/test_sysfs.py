"""The outcome rules every reader shares (STYLE §4): absent vs error vs value."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from edgemeter.exporter.sensors import sysfs
from edgemeter.exporter.sensors.sysfs import ReadLog, read_number, read_text


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_value_is_scaled_to_base_units(tmp_path: Path) -> None:
    rlog = ReadLog()
    assert read_number(write(tmp_path / "temp1_input", "54750\n"), rlog, 0.001) == pytest.approx(54.75)
    assert rlog.errors == []


def test_missing_optional_is_absent_without_error(tmp_path: Path) -> None:
    rlog = ReadLog()
    assert read_text(str(tmp_path / "nope"), rlog) is None
    assert rlog.errors == []


def test_missing_required_is_an_error(tmp_path: Path) -> None:
    rlog = ReadLog()
    assert read_number(str(tmp_path / "temp1_input"), rlog) is None
    assert len(rlog.errors) == 1


@pytest.mark.parametrize("text", ["", "\n", "N/A\n", "garbage", "nan", "inf", "-inf", "12abc"])
def test_empty_or_garbage_is_an_error(tmp_path: Path, text: str) -> None:
    rlog = ReadLog()
    assert read_number(write(tmp_path / "x", text), rlog) is None
    assert len(rlog.errors) == 1


def test_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "temp1_input").mkdir()
    rlog = ReadLog()
    assert read_number(str(tmp_path / "temp1_input"), rlog) is None
    assert len(rlog.errors) == 1


def test_dangling_link_is_an_error(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone", tmp_path / "temp1_input")
    rlog = ReadLog()
    assert read_number(str(tmp_path / "temp1_input"), rlog) is None
    assert len(rlog.errors) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_is_absent(tmp_path: Path) -> None:
    path = write(tmp_path / "energy_uj", "1\n")
    os.chmod(path, 0)
    rlog = ReadLog()
    assert read_text(path, rlog) is None
    assert rlog.errors == []


@pytest.mark.parametrize("code", [errno.EAGAIN, errno.EIO, errno.ENODATA, errno.ETIMEDOUT])
def test_flaky_driver_errors_are_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    path = write(tmp_path / "temp1_input", "1000\n")

    def failing_read(fd: int, n: int) -> bytes:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(sysfs.os, "read", failing_read)
    rlog = ReadLog()
    assert read_number(path, rlog) is None
    assert len(rlog.errors) == 1


def test_unexpected_errors_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "temp1_input", "1000\n")

    def failing_read(fd: int, n: int) -> bytes:
        raise OSError(errno.ENOMEM, "no memory")

    monkeypatch.setattr(sysfs.os, "read", failing_read)
    with pytest.raises(OSError):
        read_number(path, ReadLog())


def test_device_tree_strings_lose_their_nul(tmp_path: Path) -> None:
    path = tmp_path / "model"
    path.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    assert read_text(str(path), ReadLog()) == "Raspberry Pi 5 Model B Rev 1.0"


def test_reads_close_their_fds(tmp_path: Path) -> None:
    path = write(tmp_path / "x", "1\n")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        read_number(path, ReadLog())
        read_number(str(tmp_path / "missing"), ReadLog())
    assert len(os.listdir("/proc/self/fd")) == before


def test_permission_denied_is_absent_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RAPL energy_uj is root-only on kernels >= 5.10: a non-root exporter sees EACCES."""
    path = write(tmp_path / "energy_uj", "1\n")

    def denied(p: str, flags: int) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", p)

    monkeypatch.setattr(sysfs.os, "open", denied)
    rlog = ReadLog()
    assert read_text(path, rlog) is None
    assert rlog.errors == []

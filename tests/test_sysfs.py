"""The outcome rules every reader shares (STYLE §4): absent vs error vs value."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from edgemeter.exporter.sensors import sysfs
from edgemeter.exporter.sensors.sysfs import ReadLog, read_number, read_text

from helpers import SensorFile


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


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_repeated_reads_hold_one_descriptor_per_file_and_none_for_a_missing_one(tmp_path: Path) -> None:
    path = write(tmp_path / "x", "1\n")
    before = _fds()
    for _ in range(200):
        read_number(path, ReadLog())
        read_number(str(tmp_path / "missing"), ReadLog())
    assert _fds() == before + 1
    sysfs.KEPT.close()
    assert _fds() == before


def test_an_attribute_is_read_fresh_through_its_kept_descriptor_with_no_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scrape re-reads each attribute with one pread: no open, read and close, no path walk."""
    target = SensorFile(Path(write(tmp_path / "temp1_input", "1000\n")))
    path = str(tmp_path / "temp1_input")
    assert read_number(path, ReadLog(), 0.001) == 1.0
    opened: list[str] = []
    real_open = sysfs.os.open
    monkeypatch.setattr(sysfs.os, "open", lambda p, *a: opened.append(p) or real_open(p, *a))
    for value in (2000, 3500, 1000):
        target.write(value)  # in place, as a driver changes its value
        assert read_number(path, ReadLog(), 0.001) == value / 1000
    target.close()
    assert opened == []


@pytest.mark.parametrize("change", ["replaced", "deleted", "directory"])
def test_a_kept_file_replaced_or_removed_is_read_anew(tmp_path: Path, change: str) -> None:
    """Outside the kernel's filesystems a path may get a new inode (a fixture rewritten by
    rename, a config file): the kept descriptor of the old one is dropped, never read stale."""
    path = write(tmp_path / "in1_input", "5000\n")
    assert read_number(path, ReadLog()) == 5000
    if change == "replaced":
        write(tmp_path / "new", "5100\n")
        os.replace(tmp_path / "new", path)
    else:
        os.unlink(path)
        if change == "directory":
            os.mkdir(path)
    rlog = ReadLog()
    got = read_number(path, rlog, required=change != "deleted")
    assert got == (5100 if change == "replaced" else None)
    assert len(rlog.errors) == (1 if change == "directory" else 0)
    assert read_number(path, ReadLog(), required=False) == got  # and again, from the new state


@pytest.mark.parametrize(("code", "reopened"), [(errno.ENODEV, True), (errno.EAGAIN, False)])
def test_a_kept_descriptor_that_fails_is_closed_and_its_path_opened_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, reopened: bool
) -> None:
    """ENODEV is how sysfs answers a kept file of a device that went away: the path is opened
    at once and that outcome counts (here a device that came back: read). Any other error is
    the driver's: counted, and the next read opens the file afresh."""
    path = write(tmp_path / "dev" / "temp1_input", "1000\n")
    assert read_number(path, ReadLog()) == 1000
    before = _fds()

    def failing(fd: int, n: int, offset: int) -> bytes:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(sysfs.os, "pread", failing)
    rlog = ReadLog()
    assert read_number(path, rlog) == (1000 if reopened else None)
    assert len(rlog.errors) == (0 if reopened else 1)
    assert _fds() == (before if reopened else before - 1)  # the failed descriptor is closed
    monkeypatch.undo()
    assert read_number(path, ReadLog()) == 1000 and _fds() == before


def test_kept_files_are_bounded_and_the_unread_ones_closed(tmp_path: Path) -> None:
    paths = [write(tmp_path / f"a{i}", f"{i}\n") for i in range(3)]
    kept = sysfs.KeptFiles(limit=2, idle=0.2)
    assert [kept.read(p) for p in paths] == [b"0\n", b"1\n", b"2\n"]  # the third read and closed
    assert len(kept) == 2
    time.sleep(0.3)
    kept.read(paths[2])  # the first two are idle past the bound: closed; this one is kept now
    assert len(kept) == 1
    kept.close()
    assert len(kept) == 0


def test_at_most_a_quarter_of_the_open_file_limit_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysfs.resource, "getrlimit", lambda what: (256, 4096))
    assert sysfs.keep_limit() == 64
    monkeypatch.setattr(sysfs.resource, "getrlimit", lambda what: (1 << 20, 1 << 20))
    assert sysfs.keep_limit() == sysfs.KEEP_LIMIT


MOUNTINFO = """\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
23 1 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw
25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
30 22 0:7 / /sys/kernel/debug rw,nosuid,nodev,noexec,relatime shared:14 - debugfs debugfs rw
31 25 0:26 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,size=8G
"""


def test_each_mounts_filesystem_type_is_read_from_mountinfo(tmp_path: Path) -> None:
    path = write(tmp_path / "mountinfo", MOUNTINFO)
    got = sysfs.mount_types(path)
    assert got[os.makedev(0, 21)] == "sysfs" and got[os.makedev(0, 22)] == "proc"
    assert got[os.makedev(0, 7)] == "debugfs" and got[os.makedev(259, 2)] == "ext4"
    assert sysfs.mount_types(str(tmp_path / "missing")) == {}  # then every file is checked


@pytest.mark.parametrize(("fstype", "kept", "fstats"), [("sysfs", 1, 0), ("ext4", 1, 1), ("debugfs", 0, 0)])
def test_how_a_file_is_kept_depends_on_its_filesystem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fstype: str, kept: int, fstats: int
) -> None:
    """sysfs renders each read afresh: kept, no check. A disk file may be replaced: kept, and
    fstat-ed at each read. A debugfs driver may answer from a snapshot taken at open: never kept."""
    path = write(tmp_path / "rate", "2133000000\n")
    files = sysfs.KeptFiles(mounts={os.stat(path).st_dev: fstype})
    assert files.read(path) == b"2133000000\n"
    assert len(files) == kept
    calls: list[int] = []
    real_fstat = sysfs.os.fstat
    monkeypatch.setattr(sysfs.os, "fstat", lambda fd: calls.append(fd) or real_fstat(fd))
    assert files.read(path) == b"2133000000\n"
    assert len(calls) == fstats + (1 - kept)  # an unkept file is opened and classified again
    files.close()


@pytest.mark.skipif(not os.path.isfile("/sys/devices/system/cpu/online"), reason="no sysfs mounted here")
def test_a_real_sysfs_attribute_is_kept_without_a_check_per_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's own sysfs, told from its mountinfo: kept, and read with no fstat."""
    path = "/sys/devices/system/cpu/online"
    kept = sysfs.KeptFiles()
    first = kept.read(path)
    stats: list[int] = []
    real_fstat = sysfs.os.fstat
    monkeypatch.setattr(sysfs.os, "fstat", lambda fd: stats.append(fd) or real_fstat(fd))
    assert kept.read(path) == first and stats == []
    kept.close()


def test_permission_denied_is_absent_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RAPL energy_uj is root-only on kernels >= 5.10: a non-root exporter sees EACCES."""
    path = write(tmp_path / "energy_uj", "1\n")

    def denied(p: str, flags: int) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", p)

    monkeypatch.setattr(sysfs.os, "open", denied)
    rlog = ReadLog()
    assert read_text(path, rlog) is None
    assert rlog.errors == []

"""The Raspberry Pi firmware's ``vcgencmd``: throttling flags, firmware clocks, PMIC ADC.

The firmware sees things the kernel does not (it throttles the ARM clock behind cpufreq's back,
and only it reads the Pi 5 PMIC), so these readings come from the command, run with a hard
timeout: a wedged mailbox must cost one bounded wait, never a hung scrape. The binary path is
resolved once at start-up; a missing binary is "no data", not an error.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from edgemeter.exporter.sensors import NoData, globbed
from edgemeter.exporter.sensors.sysfs import ReadLog, parse_number, read_text

# get_throttled bits: (bit now, bit since boot) -> condition
THROTTLE_BITS = {
    "under_voltage": (0, 16),
    "frequency_capped": (1, 17),
    "throttled": (2, 18),
    "soft_temperature_limit": (3, 19),
}
_HEX = re.compile(r"throttled=(0x[0-9a-fA-F]+)")
_VERSION = re.compile(r"version\s+([0-9a-f]{7,40})\b")
_FREQ = re.compile(r"frequency\(\d+\)=(\d+)")
# pmic_read_adc lines: "   VDD_CORE_A current(7)=2.34555000A", "  VDD_CORE_V volt(15)=0.87843300V"
_ADC = re.compile(r"^\s*(\S+)_([AV])\s+(?:current|volt)\(\d+\)=([-+0-9.eE]+)[AV]\s*$")


@dataclass(frozen=True)
class PmicRail:
    """One Pi 5 PMIC rail: paired by name (``VDD_CORE_A`` with ``VDD_CORE_V``), never by index."""

    rail: str
    volts: float | None
    amperes: float | None


def parse_pmic_adc(text: str) -> list[PmicRail]:
    """Rails in output order; a rail with only a voltage (EXT5V, BATT) has amperes None."""
    volts: dict[str, float] = {}
    amps: dict[str, float] = {}
    order: list[str] = []
    for line in text.splitlines():
        m = _ADC.match(line)
        if not m:
            continue
        rail, kind, number = m.group(1), m.group(2), parse_number(m.group(3))
        if number is None:  # "1.2.3", "inf": drop the line, never serve a non-finite value
            continue
        if rail not in order:
            order.append(rail)
        (amps if kind == "A" else volts)[rail] = number
    return [PmicRail(r, volts.get(r), amps.get(r)) for r in order]


# The kernel's Raspberry Pi firmware driver has served get_throttled as a sysfs attribute of the
# firmware device since 2018 ("%x\n", the same bits as vcgencmd's); the node sits at different
# places on different SoCs, so it is found by glob
THROTTLED_SYSFS = (
    "devices/platform/soc/*firmware*/get_throttled",
    "devices/platform/*firmware*/get_throttled",
    "devices/platform/*/*firmware*/get_throttled",
)


def read_throttled_sysfs(sysfs: str, rlog: ReadLog) -> Throttled | None:
    """The firmware's throttling bits from sysfs, without a fork; None where the kernel lacks the
    attribute (then vcgencmd is asked)."""
    path = globbed.find(sysfs, THROTTLED_SYSFS)
    if path is None:
        return None
    if not os.path.exists(path):  # the driver went away: search again now
        globbed.forget(sysfs, THROTTLED_SYSFS)
        return None
    text = read_text(path, rlog)
    if text is None:
        return None
    try:
        return Throttled(int(text.strip(), 16))
    except ValueError:
        rlog.error(path, f"not a hex number: {text.strip()[:20]!r}")
        return None


class VcgencmdUnavailable(NoData):
    """No vcgencmd on this machine (or not configured): a no-data condition."""


class VcgencmdError(Exception):
    """vcgencmd ran but failed, timed out or printed something unexpected."""


@dataclass(frozen=True)
class Throttled:
    """Each condition's flag now and since boot, decoded from the 32-bit mask."""

    mask: int

    def flag(self, condition: str, since_boot: bool) -> int:
        bit = THROTTLE_BITS[condition][1 if since_boot else 0]
        return (self.mask >> bit) & 1


def resolve(path: str | None) -> str | None:
    """An executable path for ``--vcgencmd`` (a name is looked up on PATH), or None."""
    if not path:
        return None
    return shutil.which(path)


class Vcgencmd:
    """Runs one vcgencmd subcommand at a time with a timeout."""

    def __init__(self, path: str | None, timeout: float) -> None:
        self.path = path
        self.timeout = timeout

    def run(self, *args: str) -> str:
        if self.path is None:
            raise VcgencmdUnavailable("vcgencmd not found")
        try:
            done = subprocess.run(
                [self.path, *args], capture_output=True, timeout=self.timeout, check=False, text=True
            )
        except subprocess.TimeoutExpired as exc:
            raise VcgencmdError(f"vcgencmd {' '.join(args)} timed out after {self.timeout:g} s") from exc
        except OSError as exc:  # binary removed or made non-executable after start-up
            raise VcgencmdError(f"vcgencmd {' '.join(args)}: {exc.strerror}") from exc
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise VcgencmdError(f"vcgencmd {' '.join(args)} exited {done.returncode}: {why[:1]}")
        return done.stdout

    def throttled(self) -> Throttled:
        out = self.run("get_throttled")
        m = _HEX.search(out)
        if not m:
            raise VcgencmdError(f"get_throttled: unexpected output {out.strip()[:60]!r}")
        return Throttled(int(m.group(1), 16))

    def pmic_rails(self) -> list[PmicRail]:
        out = self.run("pmic_read_adc")
        rails = parse_pmic_adc(out)
        if not rails and "error=" in out:  # "Command not registered": firmware without a PMIC ADC (Pi 4)
            raise VcgencmdUnavailable(f"pmic_read_adc not supported here ({out.strip()[:60]!r}): not a Pi 5")
        if not rails:
            raise VcgencmdError(
                f"pmic_read_adc: unexpected output {out.strip()[:60]!r} (a Pi 5 firmware is needed)"
            )
        return rails

    def arm_clock_hertz(self) -> float:
        out = self.run("measure_clock", "arm")
        m = _FREQ.search(out)
        if not m:
            raise VcgencmdError(f"measure_clock arm: unexpected output {out.strip()[:60]!r}")
        return float(m.group(1))

    def firmware_version(self) -> tuple[str, str]:
        """(version hash, build date) of the VideoCore firmware (``vcgencmd version``: the date,
        a copyright line, then ``version <hash> (clean) …``)."""
        out = self.run("version")
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        m = next((_VERSION.match(line) for line in lines if _VERSION.match(line)), None)
        if not m or not lines:
            raise VcgencmdError(f"version: unexpected output {out.strip()[:60]!r}")
        return m.group(1), lines[0]

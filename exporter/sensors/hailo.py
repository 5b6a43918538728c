"""Hailo-8/8L NPUs (the Raspberry Pi 5 AI Kit's M.2 module) through HailoRT.

Two ways in, whichever the board has:

- HailoRT's Python API (``hailo_platform``): ``Device.scan()`` lists the devices (PCIe BDFs),
  ``Device(id).control.get_chip_temperature()`` gives the chip's two internal sensors
  (``ts0_temperature``, ``ts1_temperature``, °C) and ``control.power_measurement()`` one power
  reading in W (default DVM and type: on M.2 and mPCIe modules the overcurrent-protection
  monitor), raising ``HailoRTException`` where the module has no power sensor.
- ``hailortcli``: ``hailortcli scan`` (``[-] Device: 0000:01:00.0``) and ``hailortcli
  measure-power`` (``Current power consumption (W): 1.85``); the CLI has no temperature command,
  so without the Python API there is power only.

Both are slow (a control request to the firmware, or a fork): the exporter reads them on
background threads only (the Poller for temperature, the power sampler for power), never in a
scrape. A device handle is kept open between reads and opened again after a failure.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Any

from edgemeter.exporter.sensors import NoData

TIMEOUT = 2.0  # seconds one HailoRT call (a firmware control request, or hailortcli) may take
_CLI_DEVICE = re.compile(r"Device:\s*(\S+)")
_CLI_POWER = re.compile(r"Current power consumption \(W\):\s*([-+0-9.eE]+)")


class HailoError(Exception):
    """HailoRT answered with an error, timed out, or printed something unexpected."""


class NoPowerSensor(HailoError):
    """The module has no power measurement (HailoRT's unsupported status)."""


@dataclass(frozen=True)
class ChipTemperature:
    device: str
    ts0: float
    ts1: float


class HailoRT:
    """The first way in this machine has; ``NoData`` from every read where it has none."""

    def __init__(self, cli: str | None, timeout: float) -> None:
        self.timeout = timeout
        self.cli = shutil.which(cli) if cli else None
        self._api: Any = None
        self._devices: dict[str, Any] = {}  # id -> open Device (Python API)
        self._lock = threading.Lock()
        try:
            self._api = importlib.import_module("hailo_platform")
        except ImportError:
            self._api = None

    @property
    def way(self) -> str:
        return "python" if self._api is not None else "hailortcli" if self.cli else "none"

    def device_ids(self) -> list[str]:
        if self._api is not None:
            try:
                return list(self._api.Device.scan())
            except Exception as exc:  # HailoRTException and whatever the bindings raise
                raise HailoError(f"HailoRT scan: {exc}") from exc
        if self.cli:
            return _CLI_DEVICE.findall(self._run("scan"))
        raise NoData("no HailoRT (neither the hailo_platform Python package nor hailortcli)")

    def _device(self, device_id: str) -> Any:
        with self._lock:
            if device_id not in self._devices:
                try:
                    self._devices[device_id] = self._api.Device(device_id)
                except Exception as exc:
                    raise HailoError(f"HailoRT device {device_id}: {exc}") from exc
            return self._devices[device_id]

    def _forget(self, device_id: str) -> None:
        with self._lock:
            device = self._devices.pop(device_id, None)
        if device is not None:
            with contextlib.suppress(Exception):  # it is being dropped because it failed
                device.release()

    def temperature(self, device_id: str) -> ChipTemperature:
        if self._api is None:
            raise NoData(
                "chip temperature needs HailoRT's Python API (hailortcli has no temperature command)"
            )
        try:
            t = self._device(device_id).control.get_chip_temperature()
            return ChipTemperature(device_id, float(t.ts0_temperature), float(t.ts1_temperature))
        except HailoError:
            raise
        except Exception as exc:
            self._forget(device_id)
            raise HailoError(f"HailoRT {device_id} temperature: {exc}") from exc

    def power_watts(self, device_id: str) -> float:
        if self._api is not None:
            try:
                return float(self._device(device_id).control.power_measurement())
            except HailoError:
                raise
            except Exception as exc:
                if "UNSUPPORTED" in str(exc).upper() or "NOT_SUPPORTED" in str(exc).upper():
                    raise NoPowerSensor(f"{device_id}: no power measurement on this module ({exc})") from exc
                self._forget(device_id)
                raise HailoError(f"HailoRT {device_id} power: {exc}") from exc
        if self.cli:
            out = self._run("measure-power", "--device-id", device_id)
            m = _CLI_POWER.search(out)
            if m is None:
                raise HailoError(f"hailortcli measure-power: unexpected output {out.strip()[:60]!r}")
            return float(m.group(1))
        raise NoData("no HailoRT")

    def _run(self, *args: str) -> str:
        assert self.cli is not None
        try:
            done = subprocess.run(
                [self.cli, *args], capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise HailoError(f"hailortcli {' '.join(args)} timed out after {self.timeout:g} s") from exc
        except OSError as exc:
            raise HailoError(f"hailortcli {' '.join(args)}: {exc.strerror}") from exc
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip()
            if "UNSUPPORTED" in why.upper() or "NOT_SUPPORTED" in why.upper():
                raise NoPowerSensor(f"no power measurement on this module ({why.splitlines()[-1][:80]})")
            raise HailoError(f"hailortcli {' '.join(args)} exited {done.returncode}: {why[:80]!r}")
        return done.stdout

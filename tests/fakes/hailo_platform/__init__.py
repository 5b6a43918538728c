"""A stand-in for HailoRT's Python package ``hailo_platform``, written from its documented API
(HailoRT's pyhailort.py): ``Device.scan()`` lists device ids (PCIe BDFs), ``Device(id)`` opens
one, ``device.control.get_chip_temperature()`` returns ``ts0_temperature``, ``ts1_temperature``
(°C) and a 16-bit ``sample_count``, ``device.control.power_measurement()`` one reading in W, and
failures raise ``HailoRTException`` with libhailort's status name in the message.

Its answers come from files in ``$EDGEMETER_FAKE_HAILO`` (``devices``: one id a line; ``ts0``,
``ts1``, ``power``: numbers, or ``power`` = ``unsupported`` for a module without a power sensor),
read at each call, so a test changes them while the exporter runs. HailoRT itself is not
installable here: this is what the hailo collector is tested against, not a Hailo device.
"""

from __future__ import annotations

import os
from pathlib import Path

OPENED: list[str] = []  # ids opened in this process (a test counts reopenings)


class HailoRTException(Exception):
    pass


def _state(name: str) -> str | None:
    path = Path(os.environ.get("EDGEMETER_FAKE_HAILO", "/nonexistent")) / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


class TemperatureInfo:
    def __init__(self, ts0: float, ts1: float, count: int) -> None:
        self.ts0_temperature = ts0
        self.ts1_temperature = ts1
        self.sample_count = count


class _Control:
    def __init__(self, device_id: str) -> None:
        self._id = device_id
        self._count = 0

    def get_chip_temperature(self) -> TemperatureInfo:
        if _state("fail") is not None:
            raise HailoRTException("libhailort failed with error: 8 (HAILO_TIMEOUT)")
        self._count = (self._count + 1) % 65536
        return TemperatureInfo(float(_state("ts0") or "nan"), float(_state("ts1") or "nan"), self._count)

    def power_measurement(self, dvm: object = None, measurement_type: object = None) -> float:
        text = _state("power")
        if text is None or text == "unsupported":
            raise HailoRTException("libhailort failed with error: 30 (HAILO_UNSUPPORTED_OPCODE)")
        return float(text)


class Device:
    @classmethod
    def scan(cls) -> list[str]:
        return (_state("devices") or "").split()

    def __init__(self, device_id: str | None = None) -> None:
        ids = Device.scan()
        if device_id is None:
            if not ids:
                raise HailoRTException("HailoRT device not found in the system")
            device_id = ids[0]
        if device_id not in ids:
            raise HailoRTException(f"libhailort failed with error: 5 (HAILO_INVALID_ARGUMENT): {device_id}")
        OPENED.append(device_id)
        self._control_object = _Control(device_id)

    @property
    def control(self) -> _Control:
        return self._control_object

    def release(self) -> None:
        pass

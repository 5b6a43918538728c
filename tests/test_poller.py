"""The Poller: readings that fork, taken in the background; a scrape serves the latest or says
why it has none (not yet, stale, the poll's own error)."""

from __future__ import annotations

import pytest

from edgemeter.exporter.poller import Poller, Stale
from edgemeter.exporter.sensors import NoData

from helpers import Clock


class Source:
    name = "firmware_clock"

    def __init__(self) -> None:
        self.result: object = 1.5e9
        self.calls = 0

    def poll(self) -> object:
        self.calls += 1
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_latest_before_during_and_after_staleness() -> None:
    clock, source = Clock(), Source()
    poller = Poller([source], timeout=0.3, period=1.0, clock=clock)
    with pytest.raises(NoData, match="no reading yet"):
        poller.latest("firmware_clock")
    poller.poll_once(source)
    clock.now += 2.3  # two periods plus the timeout: still served
    assert poller.latest("firmware_clock") == 1.5e9
    clock.now += 0.01
    with pytest.raises(Stale, match=r"2\.3 s old"):
        poller.latest("firmware_clock")
    assert source.calls == 1  # serving never polls


def test_the_polls_own_error_is_what_a_scrape_sees() -> None:
    clock, source = Clock(), Source()
    poller = Poller([source], timeout=0.3, clock=clock)
    source.result = TimeoutError("vcgencmd measure_clock arm timed out after 0.3 s")
    poller.poll_once(source)
    with pytest.raises(TimeoutError, match="timed out"):
        poller.latest("firmware_clock")
    source.result = 1.2e9
    poller.poll_once(source)
    assert poller.latest("firmware_clock") == 1.2e9


def test_serving_a_polls_error_never_keeps_the_scrapes_frames() -> None:
    """Re-raising the stored error chained every scrape's frames onto its traceback until the
    next poll: the exporter's memory grew with the scrape rate (30 MB at 500 scrapes a second)."""
    clock, source = Clock(), Source()
    poller = Poller([source], timeout=0.3, clock=clock)
    source.result = NoData("no HailoRT")
    poller.poll_once(source)
    for _ in range(50):
        with pytest.raises(NoData) as raised:
            poller.latest("firmware_clock")
    depth, tb = 0, raised.value.__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    assert depth <= 2  # this call's own frames, not fifty scrapes'


def test_start_waits_for_the_first_poll_and_stop_ends_the_threads() -> None:
    source = Source()
    poller = Poller([source], timeout=0.3, period=0.05)
    poller.start()
    try:
        assert poller.latest("firmware_clock") == 1.5e9  # the first scrape already has it
    finally:
        poller.stop()
    assert not any(t.is_alive() for t in poller._threads)

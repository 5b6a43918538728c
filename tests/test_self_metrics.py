"""The exporter's own process metrics: prometheus_client's six families, at a fraction of the cost."""

from __future__ import annotations

import os
import resource

from prometheus_client import CollectorRegistry, ProcessCollector

from edgemeter.exporter.exposition import render
from edgemeter.exporter.self_metrics import SelfProcessCollector

from helpers import samples


def _page(collector: object) -> dict[str, float]:
    """Name -> value (these families have no labels)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return {name: value for (name, _), value in samples(render(registry).decode()).items()}


def test_same_families_and_values_as_prometheus_client() -> None:
    ours = _page(SelfProcessCollector())
    theirs = _page(ProcessCollector(namespace="edge_exporter", registry=None))
    assert set(ours) == set(theirs) and len(ours) == 6
    for name, value in theirs.items():
        if name.endswith(("cpu_seconds_total", "resident_memory_bytes", "virtual_memory_bytes")):
            assert abs(ours[name] - value) <= max(0.05 * value, 0.05), name  # read a moment apart
        elif name.endswith("open_fds"):
            assert abs(ours[name] - value) <= 2, name  # our kept /proc/self/stat descriptor
        else:
            assert ours[name] == value, name


def test_values_are_this_process() -> None:
    page = _page(SelfProcessCollector())
    rss = page["edge_exporter_process_resident_memory_bytes"]
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f)
    assert abs(rss - int(status["VmRSS"].split()[0]) * 1024) < 8 * 1024 * 1024
    assert page["edge_exporter_process_max_fds"] == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert page["edge_exporter_process_cpu_seconds_total"] <= sum(os.times()[:2]) + 0.05


def test_a_second_scrape_rereads_the_kept_descriptor() -> None:
    collector = SelfProcessCollector()
    first = _page(collector)["edge_exporter_process_cpu_seconds_total"]
    sum(i * i for i in range(3_000_000))  # burn CPU between the scrapes
    assert _page(collector)["edge_exporter_process_cpu_seconds_total"] > first


def test_no_proc_says_nothing(tmp_path) -> None:
    assert _page(SelfProcessCollector(proc=str(tmp_path))) == {}


def _held() -> int:
    """The descriptors this process holds, less the one the listing itself opens."""
    return len(os.listdir("/proc/self/fd")) - 1


def test_open_fds_counts_what_the_process_holds_with_one_stat(monkeypatch) -> None:
    collector = SelfProcessCollector()
    _page(collector)  # its /proc/self/stat descriptor is open from here on
    listed: list[str] = []
    listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: (listed.append(path), listdir(path))[1])
    read, write = os.pipe()
    try:
        got = _page(collector)["edge_exporter_process_open_fds"]
        assert got == _held() and listed == ["/proc/self/fd"]  # only the test's own listing
    finally:
        os.close(read)
        os.close(write)
    assert _page(collector)["edge_exporter_process_open_fds"] == got - 2


def test_open_fds_on_a_kernel_without_the_fd_count_is_the_listing_less_its_own(monkeypatch) -> None:
    """Before Linux 6.2, ``/proc/self/fd`` has size 0: the listing counts, less its descriptor."""
    collector = SelfProcessCollector()
    _page(collector)
    stat = os.stat
    monkeypatch.setattr(
        os,
        "stat",
        lambda path, *a, **k: os.stat_result((0,) * 10) if str(path).endswith("/fd") else stat(path, *a, **k),
    )
    assert _page(collector)["edge_exporter_process_open_fds"] == _held()

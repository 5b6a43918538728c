"""A measured span (``runner wrap``) to the Pushgateway, as a prompt is: one group per span run
(``run_id``), job ``edgemeter_span``, the span's name and the user's labels as labels
(docs/metrics.md lists the gauges). One synchronous push with a timeout; a gateway that is down
costs the span nothing but a warning."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import push_to_gateway

from edgemeter.runner.backends.base import is_number

JOB = "edgemeter_span"
TIMEOUT = 3.0
RESERVED = {"span", "rail", "job", "instance", "run_id"}  # label names the user's labels may not take

# gauge name -> (record field, HELP)
GAUGES = {
    "edge_span_duration_seconds": ("duration_seconds", "The span's duration."),
    "edge_span_avg_power_watts": ("avg_power_watts", "The span's energy over its duration."),
    "edge_span_energy_uncertainty_joules": (
        "energy_uncertainty_joules",
        "The most the span's energy can be off.",
    ),
    "edge_span_exit_status": ("exit_status", "runner wrap: the command's exit status."),
    "edge_span_peak_temperature_celsius": (
        "peak_temperature_celsius",
        "The hottest sensor seen during the span.",
    ),
    "edge_span_cpu_seconds": ("cpu_seconds", "runner wrap: the command's user + system CPU time."),
    "edge_span_start_timestamp_seconds": ("started_at", "Unix time the span started."),
    "edge_span_end_timestamp_seconds": ("ended_at", "Unix time the span ended."),
}


def push_span(url: str, rec: Mapping[str, Any], push: Callable[..., None] = push_to_gateway) -> str | None:
    """Push ``rec``; the one-line reason when it could not be pushed."""
    extra = {k: str(v) for k, v in (rec.get("labels") or {}).items() if k not in RESERVED}
    names = ["span", *extra]
    values = [str(rec["name"]), *extra.values()]
    registry = CollectorRegistry()
    for name, (field, text) in GAUGES.items():
        if is_number(rec.get(field)):
            Gauge(name, text, names, registry=registry).labels(*values).set(rec[field])
    energy = Gauge(
        "edge_span_energy_joules", "The span's energy per rail.", [*names, "rail"], registry=registry
    )
    for rail, joules in (rec.get("energy_by_rail") or {}).items():
        energy.labels(*values, rail).set(joules)
    try:
        push(url, job=JOB, registry=registry, grouping_key={"run_id": rec["run_id"]}, timeout=TIMEOUT)
    except Exception as exc:  # down, refused, 4xx/5xx: the span is measured and kept regardless
        return f"Pushgateway {url}: push failed ({exc}); the record is in the results file"
    return None

"""Energy per prompt from the exporter: its ``edge_energy_joules_total`` read at both edges.

The exporter serves energy up to the instant of the request (its sampler carries the latest
power reading forward), so the difference of two reads is the window's energy whatever the
Prometheus scrape interval. Rails are keyed ``<rail>`` (``<source>:<rail>`` when two sources
share a rail name).
"""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

TIMEOUT = 2.0
# Which rail is "the board" when several are measured: the input rails first (DESIGN.md).
INPUT_RAILS = ("VDD_IN", "POM_5V_IN", "total", "psys", "package-0", "gpu0")


class EnergyError(Exception):
    """The exporter could not be read."""


def read_energy(url: str) -> dict[str, float]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
            text = r.read().decode()
    except (OSError, ValueError) as exc:
        raise EnergyError(f"exporter {url}: {exc}") from exc
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "edge_energy_joules":
            continue
        for s in family.samples:
            if s.name == "edge_energy_joules_total":
                found[(s.labels.get("source", ""), s.labels.get("rail", ""))] = s.value
    names = [rail for _, rail in found]
    return {
        (rail if names.count(rail) == 1 else f"{source}:{rail}"): v for (source, rail), v in found.items()
    }


def window(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Energy per rail between two reads (a rail that restarted its counter is left out)."""
    return {
        rail: after[rail] - before[rail] for rail in before if rail in after and after[rail] >= before[rail]
    }


def board_rail(rails: dict[str, float]) -> str | None:
    return next((r for r in INPUT_RAILS if r in rails), next(iter(sorted(rails)), None))

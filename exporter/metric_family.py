"""The metric families a scrape builds, kept as the text lines they will be written as.

Why not prometheus_client's families: each of their samples is a named tuple holding a fresh
label dict, and the writer then joins every label of every sample again, though the label sets
of a board barely change from one scrape to the next. Here a sample's series (``name{k="v"}``)
is rendered once, cached by its label values, and a scrape only formats the value. On the Pi 5
tree that is most of what a scrape cost in Python (docs/performance.md).

The interface is the subset of prometheus_client's ``GaugeMetricFamily``/``CounterMetricFamily``
the collectors use (``add_metric``, ``add_sample``, ``name``, ``type``, ``documentation``,
``samples``), so they read the same; a counter's ``name`` drops ``_total`` as there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

# A series' rendered text, its sample name and its labels (for ``samples``).
Series = tuple[str, str, Mapping[str, str]]
# Series rendered so far, per (sample name, label names): label values -> series. Bounded, as a
# label may change without end (a firmware version, a process name): past the bound it restarts.
_SERIES: dict[tuple[str, tuple[str, ...]], dict[tuple[str, ...], Series]] = {}
MAX_SERIES = 4096  # per sample name and label names


class Sample(NamedTuple):
    """One sample as prometheus_client spells it (what tests and readers of ``samples`` see)."""

    name: str
    labels: Mapping[str, str]
    value: float


def escape(value: str) -> str:
    """A label value as the text format writes it (backslash, double quote and newline escaped)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _known(name: str, names: tuple[str, ...]) -> dict[tuple[str, ...], Series]:
    known = _SERIES.get((name, names))
    if known is None:
        known = _SERIES[(name, names)] = {}
    return known


def _series(
    known: dict[tuple[str, ...], Series], name: str, names: tuple[str, ...], values: tuple[str, ...]
) -> Series:
    """The cached series of ``values`` (rendered now if new)."""
    series = known.get(values)
    if series is None:
        if len(known) >= MAX_SERIES:
            known.clear()
        labels = dict(zip(names, values, strict=True))
        text = ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())
        series = known[values] = (f"{name}{{{text}}}" if text else name, name, labels)
    return series


class Family:
    """One metric family of one scrape: its series and values, in the order they were added."""

    __slots__ = ("_known", "documentation", "labelnames", "name", "rows", "sample_name")
    type = "untyped"
    suffix = ""  # of the samples' name: a counter's "_total"

    def __init__(
        self, name: str, documentation: str, value: float | None = None, labels: Sequence[str] = ()
    ) -> None:
        self.name = name.removesuffix(self.suffix) if self.suffix else name
        self.sample_name = self.name + self.suffix
        self.documentation = documentation
        self.labelnames = tuple(labels)
        self.rows: list[tuple[Series, float]] = []
        self._known = _known(self.sample_name, self.labelnames)
        if value is not None:
            self.add_metric((), value)

    def add_metric(self, values: Sequence[str], value: float) -> None:
        """One sample with the family's label names, ``values`` in their order."""
        values = tuple(values)
        series = self._known.get(values)
        if series is None:
            series = _series(self._known, self.sample_name, self.labelnames, values)
        self.rows.append((series, value))

    def add_sample(self, name: str, labels: Mapping[str, str], value: float) -> None:
        """One sample with its own label set (families merged across collectors differ in labels)."""
        names, values = tuple(labels), tuple(labels.values())
        known = _SERIES.get((name, names))
        series = known.get(values) if known is not None else None  # the hot path: seen before
        if series is None:
            series = _series(_known(name, names), name, names, values)
        self.rows.append((series, value))

    def extend(self, other: Family) -> None:
        """Take ``other``'s samples (the same name from another collector)."""
        self.rows.extend(other.rows)

    @property
    def samples(self) -> list[Sample]:
        """The samples as prometheus_client has them (label dicts copied: the cached ones stay intact)."""
        return [Sample(series[1], dict(series[2]), value) for series, value in self.rows]


class GaugeFamily(Family):
    __slots__ = ()
    type = "gauge"


class CounterFamily(Family):
    """A counter: ``name`` without ``_total``, its samples with it (prometheus_client's rule)."""

    __slots__ = ()
    type = "counter"
    suffix = "_total"


def merged(families: Iterable[Family]) -> list[Family]:
    """``families`` with those of one name (from several collectors) joined into the first."""
    by_name: dict[str, Family] = {}
    for family in families:
        if not family.rows:
            continue
        first = by_name.get(family.name)
        if first is None:
            by_name[family.name] = family
        else:
            first.extend(family)
    return list(by_name.values())

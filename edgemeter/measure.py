"""``edgemeter.span()``: the energy of any block of Python code, measured by the exporter.

::

    import edgemeter

    with edgemeter.span("frame", exporter_url="http://127.0.0.1:19477", labels={"video": "a.mp4"}) as s:
        infer(frame)
    s.energy_joules, s.duration_seconds, s.avg_power_watts

    @edgemeter.span("infer")          # each call is a span; the latest is infer.last
    def infer(frame): ...

The exporter's counters are read as the block starts and as it ends (runner/live_window.py):
the energy of every rail, hardware counters included, with no wait for samples. After the first
span, a read asks the exporter only for its energy collectors (``collect[]``), over one client
per URL kept for the process. ``exporter_url`` defaults to ``$EDGEMETER_EXPORTER_URL``;
``results=DIR`` appends each span to ``DIR/spans.jsonl``. A span never raises for the exporter
or the results file: its energy is then None and ``note`` says why (logged once); an exception
in the block is recorded (``error``) and goes on up. A span object measures one block at a time
(entering it again inside its own block is a RuntimeError); entered again later, it starts anew.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from edgemeter.runner.exporter_client import ExporterClient, ExporterError, metrics_url
from edgemeter.runner.live_window import Edge, edge, energy_between

ENV_URL = "EDGEMETER_EXPORTER_URL"
RESULTS_FILE = "spans.jsonl"
log = logging.getLogger("edgemeter.span")
F = TypeVar("F", bound=Callable[..., Any])

_clients: dict[str, ExporterClient] = {}
_lock = threading.Lock()
_said: set[str] = set()


def _client(url: str) -> ExporterClient:
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = ExporterClient(metrics_url(url))
        return client


def _say_once(kind: str, text: str) -> None:
    if kind not in _said:
        _said.add(kind)
        log.warning("%s; span energy left empty", text)


class Span:
    """One measured block: a context manager, or a decorator making each call one."""

    def __init__(
        self,
        name: str,
        exporter_url: str | None = None,
        labels: Mapping[str, str] | None = None,
        results: str | os.PathLike[str] | None = None,
        rail: str | None = None,
    ) -> None:
        self.name = name
        self.exporter_url = exporter_url or os.environ.get(ENV_URL)
        self.labels = dict(labels or {})
        self.results = Path(results) if results is not None else None
        self.rail = rail
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.energy_joules: float | None = None
        self.energy_rail: str | None = None
        self.energy_by_rail: dict[str, float] = {}
        self.note: str | None = None if self.exporter_url else f"no exporter_url and no ${ENV_URL}"
        self.error: str | None = None
        self.last: Span | None = None  # the decorator form: the latest call's span
        self._before: Edge | None = None
        self._open = False  # inside its with block

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    @property
    def avg_power_watts(self) -> float | None:
        d = self.duration_seconds
        return self.energy_joules / d if self.energy_joules is not None and d else None

    def _read(self) -> Edge | None:
        if not self.exporter_url:
            return None
        try:
            return edge(_client(self.exporter_url))
        except ExporterError as exc:
            self.note = str(exc)
            _say_once("unreadable", str(exc))
            return None

    def __enter__(self) -> Span:
        if self._open:
            raise RuntimeError(f"span {self.name!r} is already measuring: one with block at a time")
        self._open = True
        self.ended_at = self.energy_joules = self.energy_rail = self.error = None
        self.energy_by_rail = {}
        self.note = None if self.exporter_url else f"no exporter_url and no ${ENV_URL}"
        self._before = self._read()
        self.started_at = time.time()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.ended_at = time.time()
        self.error = f"{kind.__name__}: {exc}" if kind is not None else None
        before, self._before, self._open = self._before, None, False
        after = self._read() if before is not None else None
        if before is not None and after is not None:
            live = energy_between(before, after, self.rail)
            self.energy_joules, self.energy_rail, self.energy_by_rail = live.joules, live.rail, live.by_rail
            if live.note:
                self.note = live.note
                _say_once("no energy", live.note)
        if self.results is not None:
            self._append()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "span",
            "name": self.name,
            "labels": self.labels,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_seconds": self.duration_seconds,
            "energy_joules": self.energy_joules,
            "energy_rail": self.energy_rail,
            "energy_by_rail": self.energy_by_rail,
            "avg_power_watts": self.avg_power_watts,
            "energy_note": self.note,
            "error": self.error,
        }

    def _append(self) -> None:
        assert self.results is not None
        try:
            self.results.mkdir(parents=True, exist_ok=True)
            with (self.results / RESULTS_FILE).open("a", encoding="utf-8") as f:
                f.write(json.dumps(self.to_json()) + "\n")
        except OSError as exc:
            _say_once("results", f"{self.results / RESULTS_FILE}: {exc.strerror}")

    def __call__(self, func: F) -> F:
        """The decorator form: every call of ``func`` is a span of its own (the latest: ``.last``)."""

        @functools.wraps(func)
        def measured(*args: Any, **kwargs: Any) -> Any:
            one = Span(self.name, self.exporter_url, self.labels, self.results, self.rail)
            self.last = measured.last = one  # type: ignore[attr-defined]
            with one:
                return func(*args, **kwargs)

        measured.last = None  # type: ignore[attr-defined]
        return measured  # type: ignore[return-value]


def span(
    name: str,
    exporter_url: str | None = None,
    labels: Mapping[str, str] | None = None,
    results: str | os.PathLike[str] | None = None,
    rail: str | None = None,
) -> Span:
    """A span named ``name``: ``with edgemeter.span(...) as s:`` or ``@edgemeter.span(...)``."""
    return Span(name, exporter_url, labels, results, rail)

"""A small client for Prometheus' HTTP API: instant queries, raw samples of a range selector,
label values. Errors become :class:`PrometheusError` with one line for the user."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT = 30.0

Series = list[tuple[dict[str, str], list[tuple[float, float]]]]


class PrometheusError(Exception):
    pass


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            try:
                detail = json.load(exc).get("error", exc.reason)
            except ValueError:
                detail = exc.reason
            raise PrometheusError(f"Prometheus {self.url} answered {exc.code}: {detail}") from exc
        except (OSError, ValueError) as exc:
            raise PrometheusError(f"Prometheus {self.url} unreachable ({exc.__class__.__name__})") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus {self.url}: {body.get('error', 'query failed')}")
        return body["data"]

    def instant(self, expr: str, at: float) -> list[tuple[dict[str, str], float]]:
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def samples(self, selector: str, start: float, end: float) -> Series:
        """Raw samples (at their scrape timestamps) of ``selector`` in (start, end]."""
        window = max(end - start, 0.001)
        data = self._get(
            "/api/v1/query", {"query": f"{selector}[{window * 1000:.0f}ms]", "time": f"{end:.3f}"}
        )
        return [(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]]

    def series(self, selectors: list[str], start: float, end: float) -> list[dict[str, str]]:
        return list(
            self._get("/api/v1/series", {"match[]": selectors, "start": f"{start:.3f}", "end": f"{end:.3f}"})
        )

    def range(self, expr: str, start: float, end: float, step: float) -> Series:
        data = self._get(
            "/api/v1/query_range",
            {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"},
        )
        return [(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]]

    def label_values(self, label: str) -> list[str]:
        return list(self._get(f"/api/v1/label/{label}/values", {}))

"""Our metric families: each series rendered once and cached, and the page still exactly right."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from edgemeter.exporter import metric_family
from edgemeter.exporter.exposition import render_families
from edgemeter.exporter.metric_family import CounterFamily, GaugeFamily, merged

from helpers import samples


def test_same_values_under_other_label_names_are_other_series() -> None:
    a = GaugeFamily("edge_t_celsius", "t.", labels=["sensor"])
    a.add_metric(["cpu"], 1.0)
    b = GaugeFamily("edge_t_celsius", "t.")
    b.add_sample("edge_t_celsius", {"chip": "cpu"}, 2.0)
    b.add_sample("edge_t_celsius", {"sensor": "cpu", "source": "hwmon"}, 3.0)
    page = samples(render_families(merged([a, b])).decode())
    assert page == {
        ("edge_t_celsius", frozenset({("sensor", "cpu")})): 1.0,
        ("edge_t_celsius", frozenset({("chip", "cpu")})): 2.0,
        ("edge_t_celsius", frozenset({("sensor", "cpu"), ("source", "hwmon")})): 3.0,
    }


def test_label_values_are_escaped_once_and_stay_escaped() -> None:
    for _ in range(2):  # the second scrape takes the cached series
        family = GaugeFamily("edge_x_info", "x.", labels=["version"])
        family.add_metric(['a "quoted"\\path\nline'], 1)
        text = render_families([family]).decode()
        assert 'edge_x_info{version="a \\"quoted\\"\\\\path\\nline"} 1.0\n' in text
        assert samples(text) == {("edge_x_info", frozenset({("version", 'a "quoted"\\path\nline')})): 1.0}


def test_counter_name_and_samples_as_prometheus_client_has_them() -> None:
    counter = CounterFamily("edge_energy_joules_total", "e.", labels=["rail"])
    counter.add_metric(["VDD_IN"], 2.5)
    assert counter.name == "edge_energy_joules" and counter.type == "counter"
    assert [(s.name, dict(s.labels), s.value) for s in counter.samples] == [
        ("edge_energy_joules_total", {"rail": "VDD_IN"}, 2.5)
    ]
    text = render_families([counter]).decode()
    assert "# TYPE edge_energy_joules_total counter\n" in text
    assert 'edge_energy_joules_total{rail="VDD_IN"} 2.5\n' in text


def test_same_page_as_prometheus_client_families() -> None:
    ours, theirs = GaugeFamily("edge_a", "h.", labels=["k"]), GaugeMetricFamily("edge_a", "h.", labels=["k"])
    for family in (ours, theirs):
        for value in (1, 0.1, float("inf"), float("nan"), -0.0, 1e300):
            family.add_metric([repr(value)], value)
    assert render_families([ours]) == render_families([theirs])


def test_families_of_one_name_merge_and_empty_ones_vanish() -> None:
    first, second, empty = (GaugeFamily("edge_t", "t.", labels=["s"]) for _ in range(3))
    first.add_metric(["a"], 1)
    second.add_metric(["b"], 2)
    other = GaugeFamily("edge_u", "u.", value=3)
    out = merged([empty, first, other, second])
    assert [f.name for f in out] == ["edge_t", "edge_u"]
    assert [s.labels["s"] for s in out[0].samples] == ["a", "b"]


def test_series_cache_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(metric_family, "MAX_SERIES", 8)
    for i in range(50):  # a label that never repeats (a process name, a firmware version)
        family = GaugeFamily("edge_bounded_info", "b.", labels=["v"])
        family.add_metric([str(i)], 1)
        assert samples(render_families([family]).decode()) == {
            ("edge_bounded_info", frozenset({("v", str(i))})): 1.0
        }
    known = metric_family._SERIES[("edge_bounded_info", ("v",))]
    assert 0 < len(known) <= 8

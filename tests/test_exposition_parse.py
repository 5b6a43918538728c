"""The runner's fast page reader agrees with prometheus_client's parser on every golden page,
and refuses what is not a page."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from edgemeter.runner.exposition_parse import samples

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.prom"))


def reference(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), s.value) for f in text_string_to_metric_families(text) for s in f.samples
    ]


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_every_golden_page_reads_as_prometheus_client_reads_it(path: Path) -> None:
    text = path.read_text()
    ours, theirs = list(samples(text)), reference(text)
    assert len(ours) == len(theirs) > 10
    for (n1, l1, v1), (n2, l2, v2) in zip(ours, theirs, strict=True):
        assert (n1, l1) == (n2, l2) and same(v1, v2)


def test_escapes_special_values_and_timestamps() -> None:
    text = (
        '# HELP x a "help"\n# TYPE x gauge\n'
        'x{a="q\\"uo\\\\te\\n",b="}{, ="} +Inf\n'
        "y NaN 1700000000000\n"
        'z{a="1",} -1.5e-3\n'
    )
    assert [(n, lab) for n, lab, _ in samples(text)] == [
        ("x", {"a": 'q"uo\\te\n', "b": "}{, ="}),
        ("y", {}),
        ("z", {"a": "1"}),
    ]
    values = [v for _, _, v in samples(text)]
    assert values[0] == math.inf and math.isnan(values[1]) and values[2] == -1.5e-3
    assert [(n, lab, v) for n, lab, v in samples(text) if n != "y"] == [
        (n, lab, v) for n, lab, v in reference(text) if n != "y"
    ]


@pytest.mark.parametrize("page", ["<!doctype html><html></html>", 'x{a="1" 2', "x 1 2 3", "x{a=1} 2"])
def test_what_is_not_a_page_is_refused(page: str) -> None:
    with pytest.raises(ValueError):
        list(samples(page))

"""The runner's reads of the edgemeter exporter: energy counters at a prompt's edges, and the
board the exporter measures (its ``edge_board_info`` and input-rail candidates).

The exporter serves energy up to the instant of the request (its sampler carries the latest
power reading forward), so the difference of two reads is the window's energy whatever the
Prometheus scrape interval. Rails are keyed ``<rail>`` (``<source>:<rail>`` when two sources
share a rail name).

Every fault of the world (refused, timed out, a body cut short, a page that is not metrics, a
TLS or auth failure) is an :class:`ExporterError` with one line: the caller leaves that energy
empty and goes on. The URL may carry basic-auth credentials (``https://user:pass@host:port``),
as the exporter's ``--web-config`` may ask for them.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.exporter.boards import temperatures as board_temperatures
from edgemeter.exporter.collectors import EDGE_READ, ENERGY_COLLECTORS
from edgemeter.runner import exposition_parse
from edgemeter.runner.backends.http_stream import split_credentials
from edgemeter.runner.manifest import SERIES as MANIFEST_SERIES
from edgemeter.runner.window_energy import RailSamples

TIMEOUT = 2.0
OFFSET_MAX_AGE = 30.0  # seconds a measured clock offset is used for (clocks drift by µs a second)
MAX_IDLE = 4  # kept-alive connections held idle (main, first-token, throttle-watch reads and one spare)
# seconds an edge read asks only the energy collectors that served a counter; then all again, so a
# rail that appeared since (a meter plugged in, a sampler's first reading) is found
WIDEN_AFTER = 60.0
SKEW = 0.002  # seconds: clocks closer than this beyond the round trip (one machine) are one


class ExporterError(Exception):
    """The exporter could not be read: one line naming the URL and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status it answered, if it answered


@dataclass(frozen=True)
class ExporterPage:
    energy: dict[str, float] = field(default_factory=dict)  # rail key -> joules
    board: dict[str, str] | None = None  # edge_board_info's labels
    input_rail_candidates: tuple[str, ...] = ()
    collectors: tuple[str, ...] = ()  # the collectors the page has (edge_collector_success)
    # any throttling condition now (edge_throttled{window="now"}); None where the page has no flags
    throttled: bool | None = None
    facts: dict[str, float] = field(default_factory=dict)  # the manifest's series (runner/manifest.py)
    hottest: float | None = None  # the hottest temperature that counts (exporter/boards/temperatures.py)
    rails: tuple[tuple[str, str], ...] = ()  # (source, rail) of every energy counter, as keyed above

    def input_rail(self) -> str | None:
        """The board's input rail among those this page has energy for (None: the board has none)."""
        return board_rails.pick(self.input_rail_candidates, self.energy)


def parse_page(text: str) -> ExporterPage:
    """Energy counters, board identity and input-rail candidates of an exposition."""
    found: dict[tuple[str, str], float] = {}
    board: dict[str, str] | None = None
    ranked: list[tuple[int, str]] = []
    collectors: list[str] = []
    throttled: bool | None = None
    temperatures: list[tuple[str, float]] = []
    facts: dict[str, float] = {}
    for name, labels, value in exposition_parse.samples(text):
        if name in MANIFEST_SERIES:
            facts[name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"] = value
        if name == "edge_energy_joules_total":
            found[(labels.get("source", ""), labels.get("rail", ""))] = value
        elif name == "edge_board_info":
            board = labels
        elif name == "edge_board_input_rail_info" and labels.get("rank", "").isdigit():
            ranked.append((int(labels["rank"]), labels.get("rail", "")))
        elif name == "edge_collector_success":
            collectors.append(labels.get("collector", ""))
        elif name == "edge_temperature_celsius":
            temperatures.append((labels.get("sensor", ""), value))
        elif name == "edge_throttled" and labels.get("window") == "now":
            throttled = bool(throttled) or value == 1
    energy = dict(zip(rail_keys(list(found)), found.values(), strict=True))
    ranks = tuple(rail for _, rail in sorted(ranked))
    hottest = board_temperatures.hottest(temperatures)
    return ExporterPage(energy, board, ranks, tuple(collectors), throttled, facts, hottest, tuple(found))


def filtered(url: str, collectors: tuple[str, ...]) -> str:
    """``url`` asking only for ``collectors`` (node_exporter's ``collect[]`` parameter)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode([("collect[]", c) for c in collectors])) if q)
    return urlunsplit(parts._replace(query=query))


def metrics_url(text: str) -> str:
    """The exporter's metrics URL from what a user gives: ``HOST:PORT``, ``http://HOST:PORT`` (the
    path ``/metrics`` added) or a full URL."""
    url = text if "://" in text else f"http://{text}"
    if urlsplit(url).path in ("", "/"):
        url = url.rstrip("/") + "/metrics"
    return url


class ExporterClient:
    """Reads the exporter: the whole page first, then, once its collectors are known, only the
    board, the throttling flags and the energy collectors that served a counter (``EDGE_READ``):
    an edge read then neither pays for a full scrape nor disturbs the board with one at the
    instant a prompt starts or ends. Every ``WIDEN_AFTER`` seconds, and whenever a counter it
    served is missing, the next edge read asks every energy collector again."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url, self._auth = split_credentials(url)
        self.timeout = timeout
        # kept-alive connections not in use: any thread takes one (the first-token read's thread
        # is new at every prompt, and a connection per thread cost the exporter a handler thread
        # and a handshake per prompt: about 0.7 % of a core during a run)
        self._idle: list[http.client.HTTPConnection] = []
        self._idle_lock = threading.Lock()
        self._offset: tuple[float, float] | None = None  # (offset, monotonic time it was measured)
        # the longest a rail's sample may come after a moment it stands for (its period and its
        # sensor's lag), from the latest /samples: how long to wait after a window before asking
        self.settle: float | None = None
        self._rails: tuple[tuple[str, str], ...] = ()  # the latest page's energy counters
        self.sampled: frozenset[str] = frozenset()  # the rails the latest /samples answer had
        self.history_seconds = 0.0  # how far back the exporter keeps them (the latest answer's)
        self._runs: tuple[str, ...] = ()  # the collectors the exporter runs, from its whole page
        self._wide: str | None = None  # every edge collector it runs (None: they are the whole page)
        # (URL, counters it served, monotonic time until which it is asked alone)
        self._narrow: tuple[str, frozenset[tuple[str, str]], float] | None = None

    def read(self) -> ExporterPage:
        if not self._runs:
            return self._read_first()
        narrow = self._narrow
        if narrow is not None and time.monotonic() >= narrow[2]:
            narrow = None
        try:
            page = self._read(narrow[0] if narrow else self._wide or self.url)
        except ExporterError as exc:
            if exc.status != 400:
                raise
            # a restarted exporter that runs other collectors: learn them again from a whole page
            self._runs, self._narrow = (), None
            return self._read_first()
        if narrow is None:
            self._learn(page)
        elif not narrow[1] <= set(page.rails):
            self._narrow = None  # a counter it served is gone (a failing read): ask them all next time
        return page

    def _read_first(self) -> ExporterPage:
        page = self._read(self.url)
        self._runs = page.collectors
        wanted = tuple(c for c in EDGE_READ if c in page.collectors)
        self._wide = filtered(self.url, wanted) if wanted and len(wanted) < len(page.collectors) else None
        self._learn(page)
        return page

    def _learn(self, page: ExporterPage) -> None:
        """From a read of every energy collector: which of them to ask until WIDEN_AFTER. None
        narrows where none served a counter yet, or one of a source no collector is named for."""
        serving = {source for source, _ in page.rails}
        if not serving or not serving <= set(ENERGY_COLLECTORS):
            self._narrow = None
            return
        wanted = tuple(
            c for c in EDGE_READ if c in self._runs and (c in serving or c not in ENERGY_COLLECTORS)
        )
        self._narrow = (filtered(self.url, wanted), frozenset(page.rails), time.monotonic() + WIDEN_AFTER)

    @property
    def runs(self) -> tuple[str, ...]:
        """The collectors the exporter runs, as its first whole page listed them."""
        return self._runs

    def read_whole(self) -> ExporterPage:
        """The whole page (the manifest's facts at the run's end)."""
        return self._read(self.url)

    def read_only(self, collectors: tuple[str, ...]) -> ExporterPage | None:
        """Only ``collectors`` (those of them the exporter runs), cheaply; None when it runs none
        or the read fails (a watcher during a prompt must never end the prompt)."""
        wanted = tuple(c for c in collectors if c in self._runs)
        if not wanted:
            return None
        try:
            return self._read(filtered(self.url, wanted), whole=False)
        except ExporterError:
            return None

    def _connection(self) -> http.client.HTTPConnection:
        """An idle kept-alive connection to the exporter, or a new one. The runner reads from its
        main thread, the first-token thread and the throttle watch at once: each read holds its
        connection until ``_release``."""
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        parts = urlsplit(self.url)
        host = parts.hostname or "127.0.0.1"
        if parts.scheme == "https":
            context = ssl.create_default_context()
            return http.client.HTTPSConnection(host, parts.port or 443, timeout=self.timeout, context=context)
        return http.client.HTTPConnection(host, parts.port or 80, timeout=self.timeout)

    def _release(self, conn: http.client.HTTPConnection) -> None:
        """A connection whose answer was read whole: kept for the next read."""
        with self._idle_lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def _drop_idle(self) -> None:
        """The exporter closed a kept-alive connection (its idle limit, a restart): the others
        idle as long are closed too, so the retry opens a new one."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _get(self, url: str) -> str:
        """GET ``url`` over the kept-alive connection: one round trip, no handshake, after the first.
        A connection the exporter closed while idle (its 60 s limit, a restart) is opened anew once."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Authorization": self._auth} if self._auth else {}
        for attempt in (1, 2):
            try:
                conn = self._connection()
            except ValueError as exc:  # a port that is not a number, a broken IPv6 literal
                raise ExporterError(f"exporter {self.url}: not a URL it can reach ({exc})") from exc
            reused = conn.sock is not None
            try:
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except http.client.IncompleteRead as exc:
                conn.close()
                raise ExporterError(f"exporter {self.url}: the page was cut short") from exc
            except (
                http.client.RemoteDisconnected,
                ConnectionResetError,
                ConnectionAbortedError,
                BrokenPipeError,
                ssl.SSLEOFError,
            ) as exc:
                conn.close()
                if reused and attempt == 1:
                    self._drop_idle()
                    continue  # closed while idle: once more, on a new connection
                raise ExporterError(f"exporter {self.url}: {exc.__class__.__name__}: {exc}") from exc
            except (OSError, ValueError, http.client.HTTPException) as exc:
                conn.close()
                raise ExporterError(f"exporter {self.url}: {exc.__class__.__name__}: {exc}") from exc
            if response.will_close:
                conn.close()
            else:
                self._release(conn)
            if response.status != 200:
                raise ExporterError(
                    f"exporter {self.url} answered {response.status} {response.reason}", response.status
                )
            return body.decode("utf-8", "replace")
        raise AssertionError("unreachable")

    def _read(self, url: str, whole: bool = True) -> ExporterPage:
        text = self._get(url)
        try:
            page = parse_page(text)
        except Exception as exc:  # the parser raises several kinds on pages that are not metrics
            raise ExporterError(
                f"exporter {self.url}: not a metrics page ({exc.__class__.__name__})"
            ) from exc
        if whole and page.board is None and not page.energy:
            raise ExporterError(f"exporter {self.url}: not an edgemeter exporter (no edge_board_info)")
        if page.rails:
            self._rails = page.rails
        return page

    def clock_offset(self) -> float:
        """The exporter's clock less this machine's, from a near-empty ``/samples`` answer (its
        ``now`` is taken as the request arrives): 0 when the two agree to within the round trip
        and SKEW (one machine), else the middle of what the round trip allows. Measured again
        after OFFSET_MAX_AGE: each measure is a request the exporter's board pays for."""
        known = self._offset
        if known is not None and time.monotonic() - known[1] < OFFSET_MAX_AGE:
            return known[0]
        offset = self._measure_offset()
        self._offset = (offset, time.monotonic())
        return offset

    def _measure_offset(self) -> float:
        parts = urlsplit(self.url)
        began = time.time()
        text = self._get(
            urlunsplit(parts._replace(path="/samples", query=f"from={began:.6f}&to={began:.6f}"))
        )
        ended = time.time()
        try:
            now = float(json.loads(text)["now"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ExporterError(
                f"exporter {self.url}: /samples is not the sampler's history ({exc})"
            ) from exc
        low, high = now - ended, now - began
        return 0.0 if low - SKEW <= 0.0 <= high + SKEW else (low + high) / 2

    def samples(self, since: float, until: float) -> dict[str, RailSamples]:
        """Every sampled rail's power samples over [since, until] (Unix seconds), one either side,
        keyed like the page's energy (``/samples``, exporter/history.py), in this machine's clock:
        an exporter on another board stamps samples with its own (``clock_offset``)."""
        offset = self.clock_offset()
        parts = urlsplit(self.url)
        query = urlencode([("from", f"{since + offset:.6f}"), ("to", f"{until + offset:.6f}")])
        text = self._get(urlunsplit(parts._replace(path="/samples", query=query)))
        try:
            body = json.loads(text)
            samples = self._rail_samples(body, offset)
            self.history_seconds = float(body.get("history_seconds") or 0.0)
        except (ValueError, KeyError, TypeError, ZeroDivisionError, AttributeError) as exc:
            raise ExporterError(
                f"exporter {self.url}: /samples is not the sampler's history ({exc})"
            ) from exc
        self.settle = max((r.period + r.lag for r in samples.values()), default=None)
        self.sampled = frozenset(samples)
        return samples

    def _rail_samples(self, body: dict, offset: float) -> dict[str, RailSamples]:
        """The rails of a /samples answer, in this machine's clock (raises on a malformed one)."""
        found = [
            (source, rail)
            for source in body["sources"]
            for rail in source["rails"]
            if rail["t"] and len(rail["t"]) == len(rail["watts"])
        ]
        pairs = [(r["labels"].get("source", ""), r["labels"].get("rail", "")) for _, r in found]
        # keyed among every rail the page has, counters included, so the keys match the page's
        known = list(dict.fromkeys([*self._rails, *pairs]))
        keyed = dict(zip(known, rail_keys(known), strict=True))
        return {
            keyed[pair]: RailSamples(
                keyed[pair],
                source["collector"],
                1 / float(source["sample_hz"]),
                source["sensor_interval_seconds"],
                None if rail["oldest"] is None else float(rail["oldest"]) - offset,
                [float(x) - offset for x in rail["t"]],
                [float(x) for x in rail["watts"]],
            )
            for pair, (source, rail) in zip(pairs, found, strict=True)
        }


def rail_keys(found: list[tuple[str, str]]) -> list[str]:
    """How each (source, rail) is keyed: ``<rail>``, or ``<source>:<rail>`` where two sources
    share the rail's name."""
    names = [rail for _, rail in found]
    return [rail if names.count(rail) == 1 else f"{source}:{rail}" for source, rail in found]


def window(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Energy per rail between two reads (a rail that restarted its counter is left out)."""
    return {
        rail: after[rail] - before[rail] for rail in before if rail in after and after[rail] >= before[rail]
    }

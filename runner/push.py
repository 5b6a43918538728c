"""Per-prompt metrics to the Pushgateway, from a dedicated registry, never slowing the run.

Pushes happen on one background thread: after each prompt the runner marks the registry dirty
and goes on; the thread pushes the latest state (a push that finds newer data pending simply
pushes again, so a slow gateway coalesces pushes instead of queueing them). A gateway that is
down or slow is warned about once; the results file stays the source of truth. The grouping key
is ``run_id``: one group per run, deleted with ``--delete-after`` once Prometheus has scraped it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import delete_from_gateway, push_to_gateway

from edgemeter.runner.backends.base import is_number

log = logging.getLogger(__name__)
JOB = "edgemeter_runner"
TIMEOUT = 3.0  # seconds per push: bounded, and off the prompt loop anyway
PROMPT = ["backend", "model", "prompt_id", "repetition"]

# gauge name -> (record field, HELP)
GAUGES = {
    "edge_llm_time_to_first_token_seconds": (
        "ttft_seconds",
        "Request start to first generated text (runner-measured).",
    ),
    "edge_llm_request_duration_seconds": ("request_duration_seconds", "Request start to end of the stream."),
    "edge_llm_prefill_seconds": (
        "prefill_seconds",
        "Prompt processing time (engine figure where it has one).",
    ),
    "edge_llm_decode_seconds": ("decode_seconds", "Generation time (engine figure where it has one)."),
    "edge_llm_output_tokens_per_second": ("decode_tokens_per_second", "Output tokens over decode seconds."),
    "edge_llm_inter_token_latency_seconds": (
        "mean_itl_seconds",
        "Mean gap between streamed pieces, first excluded.",
    ),
    "edge_llm_prompt_prefill_energy_joules": (
        "prefill_energy_joules",
        "Energy on the run's energy rail from the prompt's start to its first token.",
    ),
    "edge_llm_prompt_decode_energy_joules": (
        "decode_energy_joules",
        "Energy on the run's energy rail from the first token to the end of the reply.",
    ),
    "edge_llm_decode_joules_per_token": (
        "decode_joules_per_token",
        "Decode energy over the tokens generated after the first.",
    ),
    "edge_llm_prompt_energy_above_idle_joules": (
        "energy_above_idle_joules",
        "The prompt's energy less the board's idle power (--idle) times its duration.",
    ),
    "edge_llm_prompt_energy_uncertainty_joules": (
        "energy_uncertainty_joules",
        "The most the prompt's energy can be off: sampling, the sensor's update interval, the edge reads.",
    ),
    "edge_llm_prompt_score": ("score", "1 when the reply matched the prompt's expected answer, else 0."),
    "edge_llm_prompt_start_timestamp_seconds": ("started_at", "Unix time the prompt was sent."),
    "edge_llm_prompt_end_timestamp_seconds": ("ended_at", "Unix time the prompt's stream ended."),
}


class Pusher:
    def __init__(
        self,
        url: str | None,
        run_id: str,
        push: Callable[..., None] = push_to_gateway,
    ) -> None:
        self.url = url
        self.run_id = run_id
        self._push = push
        self.registry = CollectorRegistry()
        r = self.registry
        self.gauges = {name: Gauge(name, text, PROMPT, registry=r) for name, (_, text) in GAUGES.items()}
        self.energy = Gauge(
            "edge_llm_prompt_energy_joules",
            "Energy per prompt and rail, read from the exporter at the prompt's edges.",
            [*PROMPT, "rail"],
            registry=r,
        )
        tokens = ["backend", "model", "prompt_id"]
        self.input_tokens = Counter(
            "edge_llm_input_tokens", "Prompt tokens, summed over repetitions.", tokens, registry=r
        )
        self.output_tokens = Counter(
            "edge_llm_output_tokens", "Generated tokens, summed over repetitions.", tokens, registry=r
        )
        self.prompts = Counter(
            "edge_llm_prompts", "Measured prompts by outcome.", ["backend", "model", "status"], registry=r
        )
        self.load = Gauge(
            "edge_llm_load_duration_seconds",
            "Model load time at the run's start.",
            ["backend", "model"],
            registry=r,
        )
        self.info = Gauge(
            "edge_llm_run_info",
            "The run's backend, model and host, always 1.",
            ["backend", "model", "host", "board"],
            registry=r,
        )
        self.end = Gauge("edge_llm_run_end_timestamp_seconds", "Unix time the run ended.", registry=r)
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._warned = False
        self.failures = 0
        self._thread: threading.Thread | None = None
        if url:
            self._thread = threading.Thread(target=self._loop, name="pushgateway", daemon=True)
            self._thread.start()

    def record(self, rec: Mapping[str, Any]) -> None:
        """Add one measured prompt (a results-file record) and schedule a push (returns at once).
        A resumed run replays its earlier records through here, so its group holds every prompt."""
        labels = {
            "backend": str(rec.get("backend")),
            "model": str(rec.get("model")),
            "prompt_id": str(rec.get("prompt_id")),
            "repetition": str(rec.get("repetition")),
        }
        self.prompts.labels(labels["backend"], labels["model"], str(rec.get("status"))).inc()
        if rec.get("status") == "ok":
            for name, (field, _) in GAUGES.items():
                value = rec.get(field)
                if is_number(value):
                    self.gauges[name].labels(**labels).set(value)
            tokens = (labels["backend"], labels["model"], labels["prompt_id"])
            if isinstance(rec.get("input_tokens"), int):
                self.input_tokens.labels(*tokens).inc(rec["input_tokens"])
            if isinstance(rec.get("output_tokens"), int):
                self.output_tokens.labels(*tokens).inc(rec["output_tokens"])
            for rail, joules in (rec.get("energy_by_rail") or {}).items():
                self.energy.labels(**labels, rail=rail).set(joules)
        self._dirty.set()

    def _push_now(self) -> bool:
        try:
            self._push(
                self.url,
                job=JOB,
                registry=self.registry,
                grouping_key={"run_id": self.run_id},
                timeout=TIMEOUT,
            )
            return True
        except Exception as exc:  # down, slow, refused, 4xx/5xx: warn once, never stop the run
            self.failures += 1
            if not self._warned:
                log.warning(
                    "Pushgateway %s: push failed (%s); the run goes on, results are in the file",
                    self.url,
                    exc,
                )
                self._warned = True
            return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._dirty.wait(0.2):
                self._dirty.clear()
                self._push_now()

    def finish(self, delete_after: float | None = None) -> None:
        """Push the final state (bounded wait), then optionally delete the group after a delay."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=TIMEOUT + 1)
        self.end.set_to_current_time()  # the EdgeRunStalled alert stays quiet for ended runs
        if self._push_now() and delete_after is not None:
            log.info("deleting the run's Pushgateway group in %g s", delete_after)
            threading.Event().wait(delete_after)
            try:
                delete_from_gateway(self.url, job=JOB, grouping_key={"run_id": self.run_id}, timeout=TIMEOUT)
            except Exception as exc:
                log.warning("Pushgateway %s: delete failed (%s)", self.url, exc)

"""edgemeter's metric contract, checked on an exposition: the project's own checker (DESIGN.md's
names and Prometheus' conventions), so the suite needs nothing outside the repository.

``problems(text, runner=False)`` returns one line per broken rule; ``missing(text)`` the contract
names a page does not serve (a board without a sensor class has no such series, so absent names
are reported, not failed). The rules:

- names: the ``edge_`` prefix; base-unit suffixes (never ``_amps``, ``_watt``, ``_joule_total``,
  ``_percent``, ``_milliseconds``, ``_kb`` …); a counter's samples end in ``_total``, and nothing
  but a counter's does;
- labels: no ``type`` label (DESIGN: ``device_type``), no value that reads like free text (a
  prompt in a label), the labels the contract requires on the series that need them;
- values: never NaN.
"""

from __future__ import annotations

import math
import re

from prometheus_client.parser import text_string_to_metric_families

EXPORTER_NAMES = (
    "edge_board_info", "edge_cpu_seconds_total", "edge_cpu_frequency_hertz", "edge_cpu_frequency_max_hertz",
    "edge_memory_total_bytes", "edge_memory_available_bytes", "edge_swap_total_bytes", "edge_swap_free_bytes",
    "edge_temperature_celsius", "edge_fan_speed_rpm", "edge_fan_duty_ratio", "edge_cooling_state",
    "edge_cooling_max_state", "edge_throttled", "edge_under_voltage_alarm", "edge_power_watts",
    "edge_voltage_volts", "edge_current_amperes", "edge_energy_joules_total", "edge_gpu_utilization_ratio",
    "edge_gpu_memory_used_bytes", "edge_gpu_frequency_hertz", "edge_process_cpu_seconds_total",
    "edge_process_resident_memory_bytes", "edge_collector_success", "edge_collector_duration_seconds",
)  # fmt: skip
RUNNER_NAMES = (
    "edge_llm_input_tokens_total", "edge_llm_output_tokens_total", "edge_llm_time_to_first_token_seconds",
    "edge_llm_request_duration_seconds", "edge_llm_prefill_seconds", "edge_llm_decode_seconds",
    "edge_llm_output_tokens_per_second", "edge_llm_load_duration_seconds",
    "edge_llm_prompt_start_timestamp_seconds", "edge_llm_prompt_end_timestamp_seconds",
    "edge_llm_prompt_energy_joules", "edge_llm_prompts_total", "edge_llm_run_info",
)  # fmt: skip
NEEDS_LABELS = {
    "edge_cpu_seconds_total": {"cpu", "mode"},
    "edge_throttled": {"condition", "window"},
    "edge_power_watts": {"rail", "source"},
    "edge_energy_joules_total": {"rail", "source"},
    "edge_temperature_celsius": {"sensor", "source"},
    "edge_llm_output_tokens_total": {"run_id", "backend", "model", "prompt_id"},
    "edge_llm_time_to_first_token_seconds": {"run_id", "backend", "model", "prompt_id"},
}
WRONG_UNIT = re.compile(
    r"_(amp|amps|watt|joule|joule_total|volt|percent|percentage|pct|milliseconds|ms|celcius|kb|mb|kib|mib|khz|mhz)"
    r"(_|$)"
)
FREE_TEXT = 120  # characters: longer label values are text, not ids


def _samples(text: str):
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield family, sample


def problems(text: str, runner: bool = False) -> list[str]:
    found: list[str] = []
    for family, s in _samples(text):
        if not s.name.startswith("edge_"):
            if not runner:  # a Pushgateway page also has its own push_*, go_*, process_* series
                found.append(f"{s.name}: outside the edge_ namespace")
            continue
        if WRONG_UNIT.search(s.name):
            found.append(f"{s.name}: not a base-unit name")
        if family.type == "counter" and not s.name.endswith(("_total", "_created")):
            found.append(f"{s.name}: a counter's sample must end in _total")
        if family.type != "counter" and s.name.endswith("_total"):
            found.append(f"{s.name}: ends in _total but is a {family.type}")
        if "type" in s.labels:
            found.append(f"{s.name}: a bare 'type' label")
        for key, value in s.labels.items():
            if len(value) > FREE_TEXT or "\n" in value:
                found.append(f"{s.name}: label {key} holds free text ({len(value)} characters)")
        need = NEEDS_LABELS.get(s.name)
        if need and not need <= set(s.labels):
            found.append(f"{s.name}: missing labels {sorted(need - set(s.labels))}")
        if isinstance(s.value, float) and math.isnan(s.value):
            found.append(f"{s.name}{s.labels}: NaN served")
    return sorted(set(found))


def missing(text: str, runner: bool = False) -> list[str]:
    served = {s.name for _, s in _samples(text)}
    return [n for n in (RUNNER_NAMES if runner else EXPORTER_NAMES) if n not in served]

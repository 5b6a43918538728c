#!/usr/bin/env python3
"""Writes grafana/dashboards/*.json from the panel lists below, built with Grafana's own
grafana-foundation-sdk, so every dashboard, panel, query and variable follows Grafana's schema by
construction (a misspelt option is an AttributeError here, not a panel Grafana silently ignores).

Generated rather than hand-edited so every panel has the same datasource variable, units and
layout; the JSON files are committed (Grafana provisions them as files) and a test checks that
they match this script's output. Run: .venv/bin/python grafana/build_dashboards.py

One gap: the SDK's AnnotationQuery has no fields for the Prometheus annotation options the prompt
windows need (``useValueForTime``, ``step``, ``titleFormat``, ``textFormat``, which Grafana's
Prometheus data source reads from the annotation itself); ``PROMETHEUS_ANNOTATION`` adds them to
the SDK's output, and nowhere else is JSON written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, common, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE_UID = "edgemeter-prometheus"  # grafana/provisioning/datasources/prometheus.yml
DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
I = 'instance=~"$instance"'  # noqa: E741 - the board filter every board query carries
R = 'run_id=~"$run", model=~"$model"'
F = 'board=~"$board", location=~"$location"'  # the fleet's target labels (prometheus/fleet/targets)
# per prompt, over its repetitions: the mean (a prompt run 3 times is not 3 times the tokens)
PER_PROMPT = "run_id, prompt_id"
KINDS = {"timeseries": timeseries, "bargauge": bargauge, "stat": stat, "table": table}


def query(i: int, expr: str, legend: str, instant: bool = False) -> prometheus.Dataquery:
    q = prometheus.Dataquery().ref_id(chr(65 + i)).datasource(DS).expr(expr).legend_format(legend)
    return q.format(PromQueryFormat.TABLE).instant() if instant else q


def panel(
    title: str,
    targets: list[tuple[str, str]],
    unit: str,
    kind: str = "timeseries",
    description: str = "",
    instant: bool = False,
) -> cogbuilder.Builder[model.Panel]:
    """One panel of ``kind`` whose queries are (expr, legend) pairs, A, B, … in order."""
    p = KINDS[kind].Panel().title(title).description(description).datasource(DS).unit(unit)
    p = p.height(8).span(12)
    for i, (expr, legend) in enumerate(targets):
        p = p.with_target(query(i, expr, legend, instant))
    return shaped(kind, p)


def shaped(kind: str, p: cogbuilder.Builder[model.Panel]) -> cogbuilder.Builder[model.Panel]:
    """What each kind shows: time series a legend below; bars and stats the last value of each
    series (a prompt's figure, not a sum over the range); tables their header."""
    last = common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
    if kind == "timeseries":
        return p.legend(
            common.VizLegendOptions()
            .display_mode(common_model.LegendDisplayMode.LIST)
            .placement(common_model.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    if kind == "bargauge":
        return p.orientation(common_model.VizOrientation.HORIZONTAL).reduce_options(last)
    if kind == "stat":
        return p.reduce_options(last)
    return p.show_header(True)


def variable(name: str, expr: str, label: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DS)
        .query(expr)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


DATASOURCE_VAR = (
    dashboard.DatasourceVariable("datasource")
    .label("Data source")
    .type("prometheus")
    .current(model.VariableOption(selected=True, text="Prometheus", value=DATASOURCE_UID))
)


def board_dashboard(uid: str, title: str, panels: list, variables: list, annotations: list = ()) -> dict:
    """The dashboard as Grafana's JSON model: panels two to a row in list order."""
    d = (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["edgemeter"])
        .timezone("browser")
        .editable()
        .refresh("5s")
        .time("now-15m", "now")
        .with_variable(DATASOURCE_VAR)
    )
    for v in variables:
        d = d.with_variable(v)
    for a, _ in annotations:
        d = d.annotation(a)
    for i, p in enumerate(panels):
        d = d.with_panel(p.id(i + 1))
    data = json.loads(json.dumps(d.build(), cls=JSONEncoder))
    data.setdefault("annotations", {}).setdefault("list", [])
    for encoded, (_, extra) in zip(data["annotations"]["list"], annotations, strict=True):
        encoded.update(extra)  # PROMETHEUS_ANNOTATION fields (module docstring)
    return data


INSTANCE = variable("instance", "label_values(edge_board_info, instance)", "Board")
RUN = variable("run", "label_values(edge_llm_run_info, run_id)", "Run")
MODEL = variable("model", 'label_values(edge_llm_run_info{run_id=~"$run"}, model)', "Model")


def prompt_windows(color: str = "orange") -> list[tuple[dashboard.AnnotationQuery, dict]]:
    """Each prompt's start and end drawn on every time series (value used as the timestamp):
    the SDK's annotation and the Prometheus options it has no field for."""
    return [
        (
            dashboard.AnnotationQuery()
            .name(f"Prompt {edge}s")
            .datasource(DS)
            .enable(True)
            .icon_color(color)
            .expr(f"edge_llm_prompt_{edge}_timestamp_seconds{{{R}}} * 1000"),
            PROMETHEUS_ANNOTATION
            | {
                "titleFormat": f"prompt {{{{prompt_id}}}} {edge}",
                "textFormat": "run {{run_id}} rep {{repetition}}",
            },
        )
        for edge in ("start", "end")
    ]


PROMETHEUS_ANNOTATION = {"useValueForTime": True, "step": "1s"}


BOARD = board_dashboard(
    "edgemeter-board",
    "edgemeter: Board",
    [
        panel(
            "CPU busy per core",
            [
                (
                    f'1 - sum by (instance, cpu) (rate(edge_cpu_seconds_total{{{I}, mode=~"idle|iowait"}}[$__rate_interval])) / sum by (instance, cpu) (rate(edge_cpu_seconds_total{{{I}}}[$__rate_interval]))',
                    "cpu {{cpu}}",
                )
            ],
            "percentunit",
        ),
        panel("CPU frequency", [(f"edge_cpu_frequency_hertz{{{I}}}", "{{source}} cpu {{cpu}}")], "hertz"),
        panel(
            "Temperatures",
            [(f"edge_temperature_celsius{{{I}}}", "{{source}} {{chip}} {{sensor}}")],
            "celsius",
        ),
        panel(
            "Fan",
            [
                (f"edge_fan_duty_ratio{{{I}}}", "duty {{chip}} {{fan}}"),
                (f"edge_cooling_state{{{I}}} / edge_cooling_max_state{{{I}}}", "cooling {{device_type}}"),
            ],
            "percentunit",
        ),
        panel("Fan speed", [(f"edge_fan_speed_rpm{{{I}}}", "{{chip}} {{fan}}")], "rotrpm"),
        panel(
            "Throttling (Raspberry Pi firmware)",
            [
                (f'edge_throttled{{{I}, window="now"}}', "{{condition}}"),
                (f"edge_under_voltage_alarm{{{I}}}", "under-voltage alarm {{chip}}"),
            ],
            "short",
        ),
        panel(
            "Memory and swap used",
            [
                (f"edge_memory_total_bytes{{{I}}} - edge_memory_available_bytes{{{I}}}", "memory"),
                (f"edge_swap_total_bytes{{{I}}} - edge_swap_free_bytes{{{I}}}", "swap"),
            ],
            "bytes",
        ),
        panel("Power per rail", [(f"edge_power_watts{{{I}}}", "{{source}} {{rail}}")], "watt"),
        panel(
            "Power from energy counters",
            [(f"rate(edge_energy_joules_total{{{I}}}[$__rate_interval])", "{{source}} {{rail}}")],
            "watt",
        ),
        panel("GPU", [(f"edge_gpu_utilization_ratio{{{I}}}", "gpu {{gpu}} busy")], "percentunit"),
        panel(
            "Inference processes",
            [
                (f"rate(edge_process_cpu_seconds_total{{{I}}}[$__rate_interval])", "{{process}} CPU cores"),
                (f"edge_process_cpu_share_ratio{{{I}}}", "{{process}} share"),
            ],
            "short",
        ),
        panel(
            "Collectors failing",
            [(f"edge_collector_success{{{I}}} == 0", "{{collector}}")],
            "short",
            description="Collectors that read nothing or dropped a reading this scrape (no data on this board is normal for some).",
        ),
    ],
    [INSTANCE, RUN, MODEL],
    prompt_windows(),
)

LLM_RUN = board_dashboard(
    "edgemeter-llm-run",
    "edgemeter: LLM run",
    [
        panel(
            "Decode tokens/s per prompt (mean over repetitions)",
            [
                (
                    f"avg by ({PER_PROMPT}) (edge_llm_output_tokens_per_second{{{R}}})",
                    "{{run_id}} {{prompt_id}}",
                )
            ],
            "short",
            "bargauge",
        ),
        panel(
            "Time to first token per prompt (mean over repetitions)",
            [
                (
                    f"avg by ({PER_PROMPT}) (edge_llm_time_to_first_token_seconds{{{R}}})",
                    "{{run_id}} {{prompt_id}}",
                )
            ],
            "s",
            "bargauge",
        ),
        panel(
            "Tokens per prompt (mean over repetitions)",
            [
                (
                    f"sum by ({PER_PROMPT}) (edge_llm_{kind}_tokens_total{{{R}}}) / on ({PER_PROMPT}) count by ({PER_PROMPT}) (edge_llm_prompt_end_timestamp_seconds{{{R}}})",
                    f"{short} {{{{run_id}}}} {{{{prompt_id}}}}",
                )
                for kind, short in (("output", "out"), ("input", "in"))
            ],
            "short",
            "bargauge",
            description="The run's token counters summed over repetitions, divided by the repetitions measured.",
        ),
        panel(
            "Energy per prompt (mean over repetitions)",
            [
                (
                    f"avg by ({PER_PROMPT}, rail) (edge_llm_prompt_energy_joules{{{R}}})",
                    "{{run_id}} {{prompt_id}} {{rail}}",
                )
            ],
            "joule",
            "bargauge",
        ),
        panel(
            "Joules per output token",
            [
                (
                    f"sum by ({PER_PROMPT}, rail) (edge_llm_prompt_energy_joules{{{R}}}) / on ({PER_PROMPT}) group_left sum by ({PER_PROMPT}) (edge_llm_output_tokens_total{{{R}}})",
                    "{{run_id}} {{prompt_id}} {{rail}}",
                )
            ],
            "joule",
            "bargauge",
            description="Energy over every repetition of the prompt divided by the tokens over every repetition.",
        ),
        panel(
            "Energy by phase per prompt (mean over repetitions)",
            [
                (
                    f"avg by ({PER_PROMPT}) (edge_llm_prompt_{phase}_energy_joules{{{R}}})",
                    f"{phase} {{{{run_id}}}} {{{{prompt_id}}}}",
                )
                for phase in ("prefill", "decode")
            ],
            "joule",
            "bargauge",
            description="Start to first token, first token to end, on the run's energy rail (they sum to its energy).",
        ),
        panel(
            "Energy above idle per prompt (mean over repetitions)",
            [
                (
                    f"avg by ({PER_PROMPT}) (edge_llm_prompt_energy_above_idle_joules{{{R}}})",
                    "{{run_id}} {{prompt_id}}",
                )
            ],
            "joule",
            "bargauge",
            description="The prompt's energy less the board's idle power (runner --idle) times its duration.",
        ),
        panel(
            "Score per prompt (mean over repetitions)",
            [(f"avg by ({PER_PROMPT}) (edge_llm_prompt_score{{{R}}})", "{{run_id}} {{prompt_id}}")],
            "percentunit",
            "bargauge",
            description="Share of repetitions whose reply matched the prompt's expected answer (runner --score).",
        ),
        panel(
            "Board power while the prompts ran", [(f"edge_power_watts{{{I}}}", "{{source}} {{rail}}")], "watt"
        ),
        panel(
            "Temperatures while the prompts ran",
            [(f"edge_temperature_celsius{{{I}}}", "{{source}} {{sensor}}")],
            "celsius",
        ),
        panel("Prompts by outcome", [(f"edge_llm_prompts_total{{{R}}}", "{{status}}")], "short", "stat"),
        panel(
            "Run mean tokens/s",
            [(f"run:edge_llm_output_tokens_per_second:avg{{{R}}}", "{{run_id}} {{model}}")],
            "short",
            "stat",
        ),
        panel(
            "Model load time",
            [(f"edge_llm_load_duration_seconds{{{R}}}", "{{backend}} {{model}}")],
            "s",
            "stat",
        ),
    ],
    [INSTANCE, RUN, MODEL],
    prompt_windows(),
)

# the board's input power: its profile's input-rail candidates (edge_board_input_rail_info), the
# rule exporter/boards/rails.py applies; a board with none shows no input power
INPUT_POWER = (
    f"max by (instance) (edge_power_watts{{{F}}} and on (instance, rail) edge_board_input_rail_info{{{F}}})"
)
FLEET_TABLE = (
    panel(
        "Boards",
        [
            (f"max by (instance, model, family) (edge_board_info{{{F}}})", "{{instance}}"),
            (f"max by (instance) (edge_temperature_celsius{{{F}}})", "{{instance}}"),
            (INPUT_POWER, "{{instance}}"),
            (f"instance:edge_cpu_utilization:ratio_rate30s{{{F}}}", "{{instance}}"),
            (f'up{{job="edgemeter", {F}}}', "{{instance}}"),
        ],
        "short",
        "table",
        "One row per board: identity, hottest sensor, input power, CPU busy, exporter up.",
        instant=True,
    )
    # the five instant queries joined on their labels (instance) into one row per board
    .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
    .with_transformation(
        model.DataTransformerConfig(
            id_val="organize",
            options={
                "excludeByName": {"Time": True, "Value #A": True, "job": True, "__name__": True},
                "renameByName": {
                    "instance": "board",
                    "Value #B": "hottest (°C)",
                    "Value #C": "input power (W)",
                    "Value #D": "CPU busy",
                    "Value #E": "exporter up",
                },
            },
        )
    )
)
BOARD_VAR = variable("board", "label_values(edge_board_info, board)", "Board")
LOCATION = variable("location", 'label_values(edge_board_info{board=~"$board"}, location)', "Location")
FLEET = board_dashboard(
    "edgemeter-fleet",
    "edgemeter: Fleet",
    [
        FLEET_TABLE,
        panel(
            "Hottest sensor per board",
            [(f"max by (instance) (edge_temperature_celsius{{{F}}})", "{{instance}}")],
            "celsius",
        ),
        panel("Input power per board", [(INPUT_POWER, "{{instance}}")], "watt"),
        panel(
            "Boards throttling now",
            [(f'max by (instance) (edge_throttled{{window="now", {F}}})', "{{instance}}")],
            "short",
        ),
    ],
    [BOARD_VAR, LOCATION],
)

DASHBOARDS = {"board.json": BOARD, "llm-run.json": LLM_RUN, "fleet.json": FLEET}


def render(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, data in DASHBOARDS.items():
        (OUT / name).write_text(render(data))
        print(f"wrote {OUT / name}")

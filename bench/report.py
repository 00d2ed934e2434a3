"""The printed tables and ``bench/results/latest.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.targets import Target

__all__ = ["METHOD_NOTES", "comparison_table", "targets_table", "write_json"]

_SERVICE = {"openreplay": "OpenReplay", "posteketab": "Post-e-Ketab", "mobizon": "Mobizon"}
_PEERS = (("http_sensor", "HttpSensorTrigger"), ("per_wait", "per-wait (dbt-style)"))
_METRICS: tuple[tuple[str, str], ...] = (
    ("requests_per_round", "requests/round"),
    ("requests_per_interval", "requests/interval"),
    ("cpu_per_1000_waits_per_round_s", "CPU s/1,000 waits/round"),
    ("round_period_s", "round period s"),
    ("peak_rss_mb", "peak RSS MB"),
    ("latency_median_s", "latency median s"),
    ("latency_p99_s", "latency p99 s"),
    ("unfinished_waits", "waits not fired in time"),
)

#: How the measurements were taken (printed and written with the results).
METHOD_NOTES: tuple[str, ...] = (
    "Every measurement runs in fresh processes: the simulator (python -m airflow_provider_tasks.simulator, "
    "scripted through /_sim) in one, the waits in another; CPU is time.process_time() of the waits' process only.",
    "A round: for our triggers, one round of the shared poller (every wait is due in it); for a peer, N status "
    "requests (one per wait). Requests are counted from the simulator's records inside the measured window.",
    "Detection latency: from the moment the control call that ends an item was sent (items end at random moments "
    "within one poll interval) to the moment the trigger yields its event; same clock (time.monotonic).",
    "HttpSensorTrigger fires on the first answer that is not a 404: its waits poll the same job URLs before the "
    "jobs exist, and 'ending' an item creates the job.",
    "The per-wait peer (bench/peers.py) is written like DbtCloudRunJobTrigger: a loop per wait, a new "
    "aiohttp.ClientSession per request, one request per wait per interval; in-flight requests are bounded by a "
    "semaphore.",
    "Client processes log at ERROR (AIRFLOW__LOGGING__LOGGING_LEVEL), so no implementation pays for log output.",
    "Peak RSS is the kernel's VmHWM of the measuring process: on Linux getrusage's ru_maxrss survives exec and "
    "reports the spawning driver's peak (both are in the JSON).",
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _ratio(ours: Any, peers: Sequence[Any]) -> str:
    values = [value for value in peers if isinstance(value, int | float)]
    if not isinstance(ours, int | float) or not values or min(values) == 0:
        return "-"
    return f"{ours / min(values):.3g}"


def comparison_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """Ours against each peer, per workload and size, with the ratio to the best (lowest) peer."""
    by_key = {(run["workload"], run["impl"], run["waits"]): run for run in runs}
    header = ["workload", "N", "metric", "ours", *(label for _, label in _PEERS), "ours/best peer"]
    rows: list[list[str]] = []
    for workload in _SERVICE:
        for waits in sorted({run["waits"] for run in runs if run["workload"] == workload}):
            ours = by_key.get((workload, "ours", waits), {})
            peers = [by_key.get((workload, impl, waits), {}) for impl, _ in _PEERS]
            for index, (key, label) in enumerate(_METRICS):
                peer_values = [peer.get(key) for peer in peers]
                rows.append(
                    [
                        _SERVICE[workload] if index == 0 else "",
                        f"{waits:,}" if index == 0 else "",
                        label,
                        _cell(ours.get(key)),
                        *(_cell(value) for value in peer_values),
                        _ratio(ours.get(key), peer_values),
                    ]
                )
    return _format([header, *rows])


def targets_table(targets: Sequence[Target]) -> str:
    """One line per target (met or MISSED), its note on the next line."""
    lines = [_format([["", "figure", "bound", "unit", "target"]] + [_target_row(target) for target in targets])]
    return "\n".join(lines)


def _target_row(target: Target) -> list[str]:
    return [
        "met" if target.met else "MISSED",
        _cell(target.figure),
        f"{target.comparison} {_cell(target.bound)}",
        target.unit,
        target.name + (f"  [{target.note}]" if target.note else ""),
    ]


def _format(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def write_json(path: Path, report: Mapping[str, Any]) -> None:
    """Write the report (targets, raw measurements, machine, date) as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

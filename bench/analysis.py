"""Turn what a wait run's processes reported into its figures.

Requests are counted from the simulator's own records (``time.monotonic()`` at arrival, the clock
the client's window bounds and event times use), so the client never spends CPU on counting them.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from bench.simproc import ControlCall
from bench.stats import median, percentile, rounded
from bench.workloads import WaitRun

__all__ = ["analyse_wait_run", "rate_of_calls"]


def rate_of_calls(moments: Sequence[float], window: float = 1.0) -> dict[str, Any]:
    """The smallest gap between consecutive calls and the most calls inside any ``window`` seconds."""
    ordered = sorted(moments)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ordered)]
    most, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return {"calls": len(ordered), "min_gap_s": rounded(min(gaps), 3) if gaps else None, "max_per_second": most}


def _latencies(run: WaitRun, done: Mapping[str, Any], calls: Mapping[str, ControlCall]) -> dict[str, Any]:
    items = run.wait_items()
    latencies: list[float] = []
    for index, moment, status in done["events"]:
        call = calls.get(str(items[index]))
        if call is not None and status == "success":
            latencies.append(moment - call.sent)
    control = [call.answered - call.sent for call in calls.values()]
    return {
        "latency_median_s": rounded(median(latencies), 3),
        "latency_p99_s": rounded(percentile(latencies, 0.99), 3),
        "latency_max_s": rounded(max(latencies), 3) if latencies else None,
        "latency_samples": len(latencies),
        # The latency runs from the moment the control call was sent: the status changed between
        # then and its answer, so a slow control call inflates the figure by at most this much.
        "control_call_median_s": rounded(median(control), 4),
        "control_call_p99_s": rounded(percentile(control, 0.99), 4),
    }


def _finish_phase(
    run: WaitRun, measured: Mapping[str, Any], done: Mapping[str, Any], after: list[Any]
) -> dict[str, Any]:
    """Requests once the driver started ending items. Detail requests are counted apart: the bound
    allows one per finished task (ours leaves that read to the resumed task: none here)."""
    finished = sum(1 for _, _, status in done["events"] if status == "success")
    rounds = None
    if done.get("total_rounds") is not None and measured.get("rounds_total_at_end") is not None:
        rounds = done["total_rounds"] - measured["rounds_total_at_end"]
    details = sum(1 for record in after if "task/detail" in record["path"])
    beyond = (len(after) - details) / rounds if rounds else None
    return {
        "rounds": rounds,
        "requests": len(after),
        "detail_requests": details,
        "list_requests": len(after) - details,
        "finished_tasks": finished,
        "requests_per_round_beyond_one_detail_per_finished_task": rounded(beyond, 2),
    }


def analyse_wait_run(
    run: WaitRun,
    measured: Mapping[str, Any],
    done: Mapping[str, Any],
    calls: Mapping[str, ControlCall],
    records: Sequence[Mapping[str, Any]],
    counters: Mapping[str, Any],
) -> dict[str, Any]:
    """The figures of one run (see the module docstring)."""
    start, end = measured["window_start"], measured["window_end"]
    ours = [record for record in records if record["service"] == run.workload]
    in_window = [record for record in ours if start <= record["timestamp"] <= end]
    after = [record for record in ours if record["timestamp"] > end]
    # A peer sends one status request per wait and poll: its rounds are its requests over N.
    rounds = measured["rounds"] if run.impl == "ours" else len(in_window) / run.waits
    statuses = Counter(status.split(":")[0] for _, _, status in done["events"])
    result: dict[str, Any] = {
        "name": run.name,
        "workload": run.workload,
        "impl": run.impl,
        "waits": run.waits,
        "distinct_items": len(run.items()),
        "poll_interval_s": run.poll_interval,
        "window_s": rounded(end - start, 3),
        "rounds": rounded(rounds, 3),
        "round_period_s": rounded((end - start) / rounds, 3) if rounds else None,
        "requests_in_window": len(in_window),
        "requests_per_round": rounded(len(in_window) / rounds, 2) if rounds else None,
        "requests_per_interval": rounded(len(in_window) * run.poll_interval / (end - start), 2),
        "cpu_s": rounded(measured["cpu_s"], 4),
        "cpu_per_1000_waits_per_round_s": rounded(measured["cpu_s"] / rounds / (run.waits / 1000), 5)
        if rounds
        else None,
        "cpu_per_1000_waits_per_interval_s": rounded(
            measured["cpu_s"] * run.poll_interval / (end - start) / (run.waits / 1000), 5
        ),
        "peak_rss_mb": rounded(done["peak_rss_kb"] / 1024, 1),
        # getrusage's figure keeps the peak of the process that spawned this one (see bench.memory).
        "ru_maxrss_mb": rounded(done["ru_maxrss_kb"] / 1024, 1),
        "events": dict(statuses),
        "events_before_items_ended": measured["events_before_marking"],
        "unfinished_waits": done["unfinished"],
        **_latencies(run, done, calls),
    }
    if run.impl == "ours":
        result["due_groups_in_poller"] = measured.get("due_groups")
    if run.workload == "posteketab" and run.impl == "ours":
        result["finish_phase"] = _finish_phase(run, measured, done, after)
    if run.workload == "mobizon":
        moments = [record["timestamp"] for record in ours if "getstatus" in record["path"]]
        result["getstatus"] = {
            **rate_of_calls(moments),
            "rate_limited_by_simulator": counters.get("mobizon_rate_limited"),
        }
        result["deliveries_in_window"] = measured.get("deliveries")
    return result

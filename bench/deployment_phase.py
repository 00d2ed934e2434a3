"""One DAG of ``python -m bench.deployment``: waits arrive, steady state measured, jobs ended, run checked."""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import Any

from airflow_provider_tasks.simulator import Simulator, Step
from bench.deployment_figures import fired_by_map_index, group_cpu_s, requests_per_interval, summary
from bench.stats import rounded
from tests.e2e.deployment import Deployment

__all__ = ["Phase", "idle_cpu_s", "run_phase"]

_ARRIVAL_TIMEOUT = 1500.0
_FINISH_TIMEOUT = 1500.0
_SEED = 20261202


@dataclass(frozen=True)
class Phase:
    impl: str
    dag_id: str
    waits: int
    interval: float
    intervals: int
    existing_jobs: Sequence[int]
    #: The job of map index 0 (HttpSensor's: created when the phase ends its waits).
    first_job: int


def _count(deployment: Deployment, phase: Phase, run_id: str, state: str) -> int:
    path = f"/api/v2/dags/{phase.dag_id}/dagRuns/{run_id}/taskInstances"
    return int(deployment.get(path, state=state, limit=1)["total_entries"])


def _arrivals(deployment: Deployment, phase: Phase, run_id: str, say: Callable[[str], None]) -> dict[str, Any]:
    """Wait until every mapped task is deferred; when the first and the last got there."""
    started = time.monotonic()
    first: float | None = None
    samples: list[tuple[float, int]] = []
    while time.monotonic() - started < _ARRIVAL_TIMEOUT:
        deferred = _count(deployment, phase, run_id, "deferred")
        now = time.monotonic()
        samples.append((now, deferred))
        if deferred and first is None:
            first = now
        failed = _count(deployment, phase, run_id, "failed")
        if failed:
            raise RuntimeError(f"{phase.dag_id}: {failed} task(s) failed before deferring")
        if deferred >= phase.waits:
            assert first is not None
            say(f"{phase.dag_id}: all {deferred} deferred, {now - first:.0f} s after the first")
            return {"first_deferred": first, "all_deferred": now, "arrival_span_s": round(now - first, 1)}
        if len(samples) % 15 == 0:
            say(f"{phase.dag_id}: {deferred} of {phase.waits} deferred")
        time.sleep(1.0)
    raise RuntimeError(f"{phase.dag_id}: not every task deferred within {_ARRIVAL_TIMEOUT:.0f} s")


def _service_times(sim: Simulator, start: float, end: float, path_end: str | None = None) -> list[float]:
    return [
        record.timestamp
        for record in sim.requests
        if record.service == "openreplay"
        and start <= record.timestamp < end
        and (path_end is None or record.path.endswith(path_end))
    ]


def idle_cpu_s(deployment: Deployment, seconds: float) -> float:
    """The triggerer's CPU over ``seconds`` with no trigger: its heartbeats and trigger queries."""
    pgid = deployment.processes["triggerer"].pid
    cpu_start = group_cpu_s(pgid)
    time.sleep(seconds)
    return group_cpu_s(pgid) - cpu_start


def _steady(deployment: Deployment, sim: Simulator, phase: Phase, idle: float) -> dict[str, Any]:
    pgid = deployment.processes["triggerer"].pid
    start, cpu_start = time.monotonic(), group_cpu_s(pgid)
    time.sleep(phase.intervals * phase.interval)
    end, cpu_end = time.monotonic(), group_cpu_s(pgid)
    buckets = requests_per_interval(_service_times(sim, start, end), start, phase.interval, phase.intervals)
    lists = requests_per_interval(_service_times(sim, start, end, "/jobs"), start, phase.interval, phase.intervals)
    rounds = (end - start) / phase.interval
    cpu = cpu_end - cpu_start
    return {
        "window_s": round(end - start, 1),
        "requests_per_interval": buckets,
        "list_requests_per_interval": lists,
        "requests_per_interval_max": max(buckets),
        "requests_per_interval_mean": rounded(mean(buckets), 2),
        "triggerer_cpu_s": round(cpu, 3),
        "cpu_per_wait_per_round_ms": rounded(1000 * cpu / (phase.waits * rounds), 4),
        "cpu_per_1000_waits_per_round_s": rounded(cpu / rounds / (phase.waits / 1000), 4),
        "idle_triggerer_cpu_s": round(idle, 3),
        "cpu_beyond_idle_per_wait_per_round_ms": rounded(1000 * max(0.0, cpu - idle) / (phase.waits * rounds), 4),
    }


def _end_jobs(sim: Simulator, phase: Phase) -> dict[int, float]:
    """End every job at a random moment within one interval; ``{map_index: epoch of its change}``."""
    rng = random.Random(_SEED)
    offsets = sorted(rng.uniform(0, phase.interval) for _ in range(phase.waits))
    order = list(range(phase.waits))
    if phase.impl == "ours":
        rng.shuffle(order)
    begin = time.monotonic()
    changed: dict[int, float] = {}
    for offset, index in zip(offsets, order, strict=True):
        time.sleep(max(0.0, begin + offset - time.monotonic()))
        if phase.impl == "ours":
            sim.set_status("openreplay", phase.existing_jobs[index], "completed")
        else:  # HttpSensor waits for the job to exist: create it (ids follow on)
            created = sim.openreplay.add_job(user_id=f"late-{index}@example.com", steps=[Step("completed")])
            if created != phase.first_job + index:
                raise RuntimeError(f"created job {created}, expected {phase.first_job + index}")
        changed[index] = time.time()
    return changed


def _first_after(times: Sequence[float], moment: float) -> float | None:
    at = bisect.bisect_left(times, moment)
    return times[at] if at < len(times) else None


def _finish(deployment: Deployment, sim: Simulator, phase: Phase, run_id: str) -> dict[str, Any]:
    offset = time.time() - time.monotonic()  # epoch = monotonic + offset
    changed = _end_jobs(sim, phase)
    started = time.monotonic()
    state = "running"
    while time.monotonic() - started < _FINISH_TIMEOUT:
        state = deployment.run_state(phase.dag_id, run_id)
        if state in ("success", "failed"):
            break
        time.sleep(2.0)
    succeeded = _count(deployment, phase, run_id, "success")
    fired = fired_by_map_index(deployment.all_logs(), phase.dag_id, min(changed.values()) - 1)
    latencies = [fired[index] - changed[index] for index in changed if index in fired]
    # The simulator's view: the first request after each change that could have seen it (ours: a list
    # page; HttpSensor: a read of that job's own URL).
    by_path: dict[str, list[float]] = {}
    for record in sim.requests:
        if record.service == "openreplay":
            key = "/jobs" if record.path.endswith("/jobs") else record.path.rsplit("/", 1)[-1]
            by_path.setdefault(key, []).append(record.timestamp + offset)
    seen = []
    for index, moment in changed.items():
        job = phase.first_job + index
        read = _first_after(sorted(by_path.get("/jobs" if phase.impl == "ours" else str(job), [])), moment)
        if read is not None:
            seen.append(read - moment)
    return {
        "run_state": state,
        "succeeded": succeeded,
        "resume_s": round(time.monotonic() - started, 1),
        "detection_latency_s": summary(latencies),
        "first_request_after_change_s": summary(seen),
        "fired_events_found": len(fired),
    }


def run_phase(
    deployment: Deployment, sim: Simulator, phase: Phase, idle: float, say: Callable[[str], None]
) -> dict[str, Any]:
    """Run ``phase``'s DAG; ``idle`` is the triggerer's CPU over a window as long as the steady one."""
    say(f"{phase.dag_id}: triggering {phase.waits} mapped waits")
    run_id = deployment.trigger(phase.dag_id)
    arrivals = _arrivals(deployment, phase, run_id, say)
    first, last = arrivals["first_deferred"], arrivals["all_deferred"]
    count = max(1, int((last - first) // phase.interval))
    arrival_requests = requests_per_interval(_service_times(sim, first, last), first, phase.interval, count)
    arrival_lists = requests_per_interval(_service_times(sim, first, last, "/jobs"), first, phase.interval, count)
    time.sleep(phase.interval + 2.0)  # the triggerer picks the last ones up within a heartbeat
    say(f"{phase.dag_id}: measuring {phase.intervals} steady intervals")
    steady = _steady(deployment, sim, phase, idle)
    say(f"{phase.dag_id}: steady {steady['requests_per_interval']} requests/interval, ending the jobs")
    finish = _finish(deployment, sim, phase, run_id)
    say(f"{phase.dag_id}: run {finish['run_state']}, {finish['succeeded']} succeeded")
    return {
        "dag_id": phase.dag_id,
        "run_id": run_id,
        "waits": phase.waits,
        "arrival_span_s": arrivals["arrival_span_s"],
        # Arriving, the per-job reads are the workers' own first pokes before they defer.
        "requests_per_interval_while_arriving": arrival_requests,
        "list_requests_per_interval_while_arriving": arrival_lists,
        "steady": steady,
        "finish": finish,
    }

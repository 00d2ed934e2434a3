"""start_from_trigger and the event triggers in a real Airflow 3.3 deployment, through its REST API.

- Zero-slot waits: the same OpenReplay wait, deferred from a worker and started in the triggerer.
  Counted per wait: worker launches (the scheduler's "Received executor event" lines for the task
  instance: one per launch) and the time from the DAG run's start to the wait sitting in the
  triggerer (the trigger row's creation; and, observed, the task deferred with a triggerer assigned).
  With ``PROVIDER_TASKS_BENCH_RESULTS=1`` the figures are written to ``bench/results/zero_slot.json``.
- Event-driven runs: ``example_asset_events`` is started once per finished item, with that item's
  id, and not again after a triggerer restart. (They run first: every job the zero-slot DAGs wait
  for is a deletion job too, and starts a run of it when it finishes.)

The tests run in order and share one deployment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tasks.simulator import Simulator, Step

from .deployment import ROOT, Deployment, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

HERE = Path(__file__).resolve().parent
MODES = {"deferrable": "zero_slot_deferrable", "start_from_trigger": "zero_slot_start_from_trigger"}
RUNS_PER_MODE = 3
EVENTS_DAG = "example_asset_events"


class World:
    def __init__(self, sim: Simulator, deployment: Deployment) -> None:
        self.sim = sim
        self.deployment = deployment
        self.figures: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        self.event_job: int = 0


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    home = Path(tempfile.mkdtemp(prefix="airflow-e2e-zero-slot-"))
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(HERE / "dags" / "zero_slot.py", dags)
    shutil.copy(ROOT / "example_dags" / f"{EVENTS_DAG}.py", dags)
    with Simulator() as sim:
        sim.openreplay.add_job(user_id="history", steps=[Step("completed")])  # finished before any watcher
        sim.posteketab.add_task(task_type=0, steps=[Step(3)])
        deployment = Deployment(home, sim.env(), extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)})
        world = World(sim, deployment)
        try:
            deployment.boot()
            yield world
        finally:
            deployment.stop()
            _write_figures(world)


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _launches(d: Deployment, dag_id: str, run_id: str) -> int:
    """Worker launches of the task: the scheduler logs one executor event per launch."""
    pattern = re.compile(
        r"Received executor event with state \w+ for task instance "
        rf"TaskInstanceKey\(dag_id='{re.escape(dag_id)}', task_id='wait', run_id='{re.escape(run_id)}'"
    )
    return sum(len(pattern.findall(path.read_text(errors="replace"))) for path in d.logs.glob("scheduler*.log"))


def _measure_one(world: World, mode: str) -> dict[str, float]:
    sim, d = world.sim, world.deployment
    dag_id = MODES[mode]
    job_id = sim.openreplay.add_job(user_id=f"{mode}-{time.time()}", steps=[Step("scheduled")])
    run_id = d.trigger(dag_id, {"job_id": job_id})

    def in_triggerer() -> dict[str, Any] | None:
        ti = d.task_instances(dag_id, run_id).get("wait", {})
        trigger = ti.get("trigger") or {}
        return ti if ti.get("state") == "deferred" and trigger.get("triggerer_id") is not None else None

    ti = wait_for(f"{dag_id} to wait in the triggerer", in_triggerer, 180, interval=0.2)
    seen = time.time()
    run = d.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    started = _parse_time(run["start_date"])
    # The link is served while the task waits, though no worker ran in start_from_trigger mode.
    wait_for("the extra link", lambda: d.links(dag_id, run_id, "wait").get("OpenReplay") == sim.url, 60)
    # A resume queued before the scheduler has heard that the deferring launch ended fails the task
    # (apache/airflow#71172): let the first launch be counted before the job finishes.
    expected_before = 1 if mode == "deferrable" else 0
    wait_for("the deferring launch to end", lambda: _launches(d, dag_id, run_id) >= expected_before, 120, 0.5)
    launches_while_waiting = _launches(d, dag_id, run_id)
    sim.set_status("openreplay", job_id, "completed")
    wait_for(f"{dag_id} to succeed", lambda: d.run_state(dag_id, run_id) == "success", 180, interval=0.5)
    value = d.xcom(dag_id, run_id, "wait")
    assert value["jobId"] == job_id and value["status"] == "completed"  # the rendered id reached the trigger
    # The scheduler may log the resume's executor event after the run's state changed: wait for it, then
    # a little longer, so that an extra launch would be counted too.
    expected = 2 if mode == "deferrable" else 1
    wait_for("the resume's executor event", lambda: _launches(d, dag_id, run_id) >= expected, 120, 0.5)
    time.sleep(2)
    return {
        "job_id": job_id,
        "worker_launches": _launches(d, dag_id, run_id),
        "worker_launches_before_resume": launches_while_waiting,
        "seconds_to_deferred": round(_parse_time(ti["trigger"]["created_date"]) - started, 2),
        "seconds_to_waiting_in_triggerer": round(seen - started, 2),
    }


# ---------------------------------------------------------------------- event-driven runs


def _event_runs(d: Deployment) -> list[dict[str, Any]]:
    runs = d.get(f"/api/v2/dags/{EVENTS_DAG}/dagRuns", order_by="start_date", limit=100)["dag_runs"]
    return [run for run in runs if run.get("run_type") == "asset_triggered"]


def _announced(d: Deployment) -> list[tuple[str, Any]]:
    """(service, id) of every item the finished runs of the events DAG report."""
    found = []
    for run in _event_runs(d):
        if run["state"] == "success":
            found += [(item["service"], item["id"]) for item in d.xcom(EVENTS_DAG, run["dag_run_id"], "report")]
    return found


def _watchers_polled(world: World, rounds: int = 2) -> None:
    sim = world.sim
    jobs, tasks = sim.count("openreplay", path="jobs"), sim.count("posteketab", path="task/list")
    wait_for(
        "both watchers to read their lists",
        lambda: (
            sim.count("openreplay", path="jobs") >= jobs + rounds
            and sim.count("posteketab", path="task/list") >= tasks + rounds
        ),
        180,
    )


def _settle(d: Deployment, expected: int) -> None:
    wait_for(
        f"{expected} finished event run(s)",
        lambda: sum(r["state"] == "success" for r in _event_runs(d)) >= expected,
        180,
        1,
    )
    time.sleep(8)  # several more poll rounds: a duplicate would have started by now
    assert all(run["state"] in ("success", "failed") for run in _event_runs(d))


def test_a_finished_job_starts_exactly_one_run_with_its_id(world: World) -> None:
    sim, d = world.sim, world.deployment
    wait_for(f"{EVENTS_DAG} to be parsed", lambda: d.get(f"/api/v2/dags/{EVENTS_DAG}"), 180)
    _watchers_polled(world)
    assert _event_runs(d) == []  # what finished before the watcher started is history
    job_id = sim.openreplay.add_job(user_id="event-user", steps=[Step("running")])
    _watchers_polled(world)
    sim.set_status("openreplay", job_id, "completed")
    _settle(d, 1)
    assert _announced(d) == [("OpenReplay", job_id)]
    world.event_job = job_id


def test_across_a_triggerer_restart_nothing_is_announced_twice(world: World) -> None:
    sim, d = world.sim, world.deployment
    task_id = sim.posteketab.add_task(task_type=0, steps=[Step(2)])
    _watchers_polled(world)
    d.stop_component("triggerer")
    sim.set_status("posteketab", task_id, 3)  # finishes while no triggerer runs
    d.start("triggerer")
    _settle(d, 2)
    announced = _announced(d)
    # The job finished before the restart is not announced again; the task finished while it was down is.
    assert announced == [("OpenReplay", world.event_job), ("Post-e-Ketab", task_id)], announced
    _watchers_polled(world, rounds=3)
    assert len(_event_runs(d)) == 2


# ---------------------------------------------------------------------- zero-slot waits


def test_start_from_trigger_needs_one_worker_launch_per_wait(world: World) -> None:
    for _ in range(RUNS_PER_MODE):
        for mode in MODES:  # interleaved, so both modes see the same deployment load
            world.figures[mode].append(_measure_one(world, mode))
    deferrable, started = world.figures["deferrable"], world.figures["start_from_trigger"]
    assert all(run["worker_launches"] == 2 for run in deferrable), deferrable
    assert all(run["worker_launches"] == 1 and run["worker_launches_before_resume"] == 0 for run in started), started
    assert statistics.median(r["seconds_to_deferred"] for r in started) < statistics.median(
        r["seconds_to_deferred"] for r in deferrable
    )


def test_start_from_trigger_honours_the_timeout(world: World) -> None:
    d, sim = world.deployment, world.sim
    job_id = sim.openreplay.add_job(user_id="never-finishes", steps=[Step("scheduled")])
    run_id = d.trigger("zero_slot_timeout", {"job_id": job_id})
    wait_for("the timeout to skip the task", lambda: d.run_state("zero_slot_timeout", run_id) == "success", 240, 1)
    ti = d.task_instances("zero_slot_timeout", run_id)["wait"]
    assert ti["state"] == "skipped" and ti["try_number"] == 1  # soft_fail: the sensor's own timeout, no retry
    assert _launches(d, "zero_slot_timeout", run_id) == 1


def _write_figures(world: World) -> None:
    if not any(world.figures.values()):
        return
    summary = {
        mode: {
            "runs": runs,
            "median_worker_launches": statistics.median(r["worker_launches"] for r in runs),
            "median_seconds_to_deferred": statistics.median(r["seconds_to_deferred"] for r in runs),
            "median_seconds_to_waiting_in_triggerer": statistics.median(
                r["seconds_to_waiting_in_triggerer"] for r in runs
            ),
        }
        for mode, runs in world.figures.items()
        if runs
    }
    import airflow

    report = {
        "what": "one OpenReplay wait per DAG run, real deployment (LocalExecutor), simulator on 127.0.0.1",
        "airflow": airflow.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "modes": summary,
    }
    out = ROOT / ".e2e-output"
    out.mkdir(exist_ok=True)
    (out / "zero_slot.json").write_text(json.dumps(report, indent=2) + "\n")
    if os.environ.get("PROVIDER_TASKS_BENCH_RESULTS") == "1":
        (ROOT / "bench" / "results" / "zero_slot.json").write_text(json.dumps(report, indent=2) + "\n")

"""Reschedule mode in a real Airflow 3.3 deployment: each sensor, several runs in a row, at the floor.

Below ``RESCHEDULE_MIN_INTERVAL`` Airflow itself fails rescheduled sensors now and then: the executor's
success for one poke reaches the scheduler after the next poke was queued, and the scheduler marks
that try failed (apache/airflow#71172; a plain ``PythonSensor`` fails the same way). At the floor
every run must end in success on its first try, each sensor having rescheduled between its pokes,
and a sensor that asked for less must say in its log that its interval was raised.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_tasks.sensors.base import RESCHEDULE_MIN_INTERVAL
from airflow_provider_tasks.simulator import Simulator, Step

from .deployment import Deployment, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

DAG_ID = "reschedule_mode"
RUNS = 3
#: Polls each item stays running: every sensor pokes three times, so it is rescheduled twice per run.
RUNNING_POLLS = 2


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[Simulator, Deployment]]:
    home = Path(tempfile.mkdtemp(prefix="airflow-e2e-reschedule-"))
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(Path(__file__).resolve().parent / "dags" / f"{DAG_ID}.py", dags)
    with Simulator() as sim:
        d = Deployment(home, sim.env(), extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)})
        try:
            d.boot()
            wait_for(f"{DAG_ID} to be parsed", lambda: d.get(f"/api/v2/dags/{DAG_ID}"), 180)
            yield sim, d
        finally:
            d.stop()


def _task_log(d: Deployment, run_id: str, task_id: str) -> str:
    path = d.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}" / "attempt=1.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def test_each_sensor_succeeds_in_reschedule_mode_run_after_run(deployment: tuple[Simulator, Deployment]) -> None:
    sim, d = deployment
    steps = {"openreplay": [Step("running", polls=RUNNING_POLLS), Step("completed")]}
    outcomes = []
    for number in range(RUNS):
        job = sim.openreplay.add_job(user_id=f"reschedule-{number}", steps=steps["openreplay"])
        task = sim.posteketab.add_task(steps=[Step(2, polls=RUNNING_POLLS), Step(3)])
        mobizon = sim.mobizon.add_task(steps=[Step(1, polls=RUNNING_POLLS, progress=50), Step(2)])
        reads_before = {
            "openreplay": sim.count("openreplay", path=f"/jobs/{job}"),
            "posteketab": sim.count("posteketab", path="task/detail"),
            "mobizon": sim.count("mobizon", path="getstatus"),
        }
        run_id = d.trigger(DAG_ID, {"openreplay_job": job, "posteketab_task": task, "mobizon_task": mobizon})
        state = wait_for(
            f"run {number + 1} of {DAG_ID} to end",
            lambda run_id=run_id: (s := d.run_state(DAG_ID, run_id)) in ("success", "failed") and s,
            600,
            2,
        )
        tis = d.task_instances(DAG_ID, run_id)
        outcomes.append((run_id, state, {task_id: (ti["state"], ti["try_number"]) for task_id, ti in tis.items()}))
        assert state == "success", outcomes
        # One try each (a reschedule is not a retry), and three pokes: two of them after a reschedule.
        assert {task_id: ti["try_number"] for task_id, ti in tis.items()} == dict.fromkeys(reads_before, 1), outcomes
        assert sim.count("openreplay", path=f"/jobs/{job}") - reads_before["openreplay"] >= RUNNING_POLLS + 1
        assert sim.count("posteketab", path="task/detail") - reads_before["posteketab"] >= RUNNING_POLLS + 1
        assert sim.count("mobizon", path="getstatus") - reads_before["mobizon"] >= RUNNING_POLLS + 1
        assert d.xcom(DAG_ID, run_id, "openreplay")["jobId"] == job
        raised = f"is below the reschedule-mode minimum (apache/airflow#71172); using {RESCHEDULE_MIN_INTERVAL}"
        assert raised in _task_log(d, run_id, "mobizon")
        assert "reschedule-mode minimum" not in _task_log(d, run_id, "openreplay")

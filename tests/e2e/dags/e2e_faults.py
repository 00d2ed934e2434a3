"""The DAG of the fault tests (tests/e2e/test_faults.py): many waits across the three services.

Every wait is a mapped task over a list the run's conf gives, so one run holds tens of deferred
waits, some of them OpenReplay deletion jobs the task created and owns, plus a poke-mode sensor
(with retries) that occupies a Celery worker slot. A list left empty skips its tasks.

Failure budgets. A test makes the simulator unreachable for 120 s while every wait is deferred; each
wait must outlast that. Only the poll interval is counted here, so the budget holds even if a poll
failed at once, without the hook's own retries (5 tries with sleeps of 1, 2, 4, 8 s jittered to
50-100 %, i.e. >= 7.5 s more per failed poll, which only widens the margin): every wait polls every
POLL = 2 s and gives up after BUDGET = 75 failed polls in a row; two polls of one wait start at least
POLL apart, so the 75th failure comes >= (75 - 1) * 2 = 148 s after the first one, > 120 s. (The
default budget of 10 does not: in a 120 s outage the waits here saw 10 failed polls in a row.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_tasks.operators.openreplay import OpenReplayDeleteUserDataOperator
from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor
from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor

POLL = 2.0
BUDGET = 75
TIMEOUT = 1800  # seconds: far beyond any test, so no wait ends by its deadline

with DAG(
    dag_id="e2e_faults",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=64,
    params={"posteketab": [], "openreplay": [], "owned": [], "mobizon": [], "poke": []},
    tags=["e2e"],
    doc_md=__doc__,
):

    @task
    def ids(kind: str, **context: Any) -> list[Any]:
        return list(context["params"][kind])

    PostEKetabTaskSensor.partial(
        task_id="posteketab_wait", poke_interval=POLL, timeout=TIMEOUT, max_consecutive_failures=BUDGET, deferrable=True
    ).expand(posteketab_task_id=ids.override(task_id="posteketab_ids")("posteketab"))
    OpenReplayJobSensor.partial(
        task_id="openreplay_wait", poke_interval=POLL, timeout=TIMEOUT, max_consecutive_failures=BUDGET, deferrable=True
    ).expand(job_id=ids.override(task_id="openreplay_ids")("openreplay"))
    MobizonTaskSensor.partial(
        task_id="mobizon_wait", poke_interval=POLL, timeout=TIMEOUT, max_consecutive_failures=BUDGET, deferrable=True
    ).expand(mobizon_task_id=ids.override(task_id="mobizon_ids")("mobizon"))
    OpenReplayDeleteUserDataOperator.partial(
        task_id="owned_deletion",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL,
        timeout=TIMEOUT,
        max_consecutive_failures=BUDGET,
    ).expand(user_id=ids.override(task_id="owned_users")("owned"))
    PostEKetabTaskSensor.partial(
        task_id="poke_wait",
        mode="poke",
        deferrable=False,
        poke_interval=POLL,
        timeout=TIMEOUT,
        max_consecutive_failures=BUDGET,
        retries=2,
        retry_delay=timedelta(seconds=5),
    ).expand(posteketab_task_id=ids.override(task_id="poke_ids")("poke"))

"""DAG of tests/e2e/test_reschedule_mode.py: one sensor per service in reschedule mode.

OpenReplay and Post-e-Ketab ask for the reschedule-mode floor itself; Mobizon keeps its default
``poke_interval`` (5 s), below the floor, so its log must say the interval was raised.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_tasks.sensors.base import RESCHEDULE_MIN_INTERVAL
from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor
from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor

with DAG(
    dag_id="reschedule_mode",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"openreplay_job": 0, "posteketab_task": "", "mobizon_task": 0},
    tags=["e2e"],
):
    common = {"mode": "reschedule", "timeout": 600, "retries": 0}
    OpenReplayJobSensor(
        task_id="openreplay", job_id="{{ params.openreplay_job }}", poke_interval=RESCHEDULE_MIN_INTERVAL, **common
    )
    PostEKetabTaskSensor(
        task_id="posteketab",
        posteketab_task_id="{{ params.posteketab_task }}",
        poke_interval=RESCHEDULE_MIN_INTERVAL,
        **common,
    )
    MobizonTaskSensor(task_id="mobizon", mobizon_task_id="{{ params.mobizon_task }}", **common)

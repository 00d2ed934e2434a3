"""DAGs of tests/e2e/test_zero_slot_and_events.py: the same OpenReplay wait, deferred from a worker and
started in the triggerer (``start_from_trigger``), and a start_from_trigger wait that times out."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")

for dag_id, start_from_trigger, extra in (
    ("zero_slot_deferrable", False, {"deferrable": True}),
    ("zero_slot_start_from_trigger", True, {}),
    ("zero_slot_timeout", True, {"timeout": 15, "soft_fail": True}),
):
    with DAG(dag_id=dag_id, schedule=None, start_date=START, catchup=False, params={"job_id": 0}, tags=["e2e"]):
        OpenReplayJobSensor(
            task_id="wait",
            job_id="{{ params.job_id }}",
            poke_interval=2,
            start_from_trigger=start_from_trigger,
            **extra,
        )

"""Wait for a Mobizon recipient upload (a background task of Campaign/AddRecipients)."""

from __future__ import annotations

from typing import Any

from _settings import DEMO_MOBIZON_TASK, START, poll_seconds
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor

with DAG(
    dag_id="example_mobizon",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"mobizon_task_id": DEMO_MOBIZON_TASK},
    tags=["example", "mobizon"],
    doc_md=__doc__,
):
    # [START mobizon_sensor]
    wait_for_upload = MobizonTaskSensor(
        task_id="wait_for_upload",
        mobizon_task_id="{{ params.mobizon_task_id }}",
        deferrable=True,
        poke_interval=poll_seconds(5),
        timeout=3600,
    )
    # [END mobizon_sensor]

    @task
    def report(status: dict[str, Any]) -> str:
        return f"upload finished: status {status['status']}, progress {status['progress']}%"

    report(wait_for_upload.output)

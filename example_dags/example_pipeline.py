"""One pipeline over the three services.

Wait for a Post-e-Ketab import and fetch its rows (the fetch waits by itself, in poke mode), branch
on failed rows; meanwhile delete an OpenReplay user's data and wait for it in the triggerer, and
wait for a Mobizon recipient upload; report once everything is done.
"""

from __future__ import annotations

from typing import Any

from _settings import DEMO_EXPORT_TASK, DEMO_MOBIZON_TASK, START, poll_seconds
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_tasks.operators.openreplay import OpenReplayDeleteUserDataOperator
from airflow_provider_tasks.operators.posteketab import PostEKetabTaskResultOperator, failed_rows
from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor

with DAG(
    dag_id="example_pipeline",
    schedule=None,
    start_date=START,
    catchup=False,
    params={
        "export_task_id": DEMO_EXPORT_TASK,
        "user_id": "pipeline-user@example.com",
        "mobizon_task_id": DEMO_MOBIZON_TASK,
    },
    tags=["example"],
    doc_md=__doc__,
):
    # [START posteketab_task_result_blocking]
    fetch_rows = PostEKetabTaskResultOperator(
        task_id="fetch_rows",
        posteketab_task_id="{{ params.export_task_id }}",
        deferrable=False,
        poll_interval=poll_seconds(30),
        timeout=3600,
    )
    # [END posteketab_task_result_blocking]

    @task.branch
    def any_failed(rows: list[dict[str, Any]]) -> str:
        return "flag_failed_rows" if failed_rows(rows) else "rows_clean"

    @task
    def flag_failed_rows(rows: list[dict[str, Any]]) -> int:
        return len(failed_rows(rows))

    @task
    def rows_clean() -> int:
        return 0

    # [START openreplay_delete_user_data_and_wait]
    delete_user = OpenReplayDeleteUserDataOperator(
        task_id="delete_user_data",
        user_id="{{ params.user_id }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=poll_seconds(300),
        timeout=36 * 3600,
    )
    # [END openreplay_delete_user_data_and_wait]
    wait_for_upload = MobizonTaskSensor(
        task_id="wait_for_upload",
        mobizon_task_id="{{ params.mobizon_task_id }}",
        deferrable=True,
        poke_interval=poll_seconds(5),
        timeout=3600,
    )

    @task(trigger_rule="none_failed_min_one_success")
    def report(rows: list[dict[str, Any]], job: dict[str, Any], upload: dict[str, Any]) -> str:
        return (
            f"{len(rows)} export rows, deletion job {job['jobId']} {job['status']}, "
            f"Mobizon upload status {upload['status']}"
        )

    outcomes = [flag_failed_rows(fetch_rows.output), rows_clean()]
    any_failed(fetch_rows.output) >> outcomes
    outcomes >> report(fetch_rows.output, delete_user.output, wait_for_upload.output)

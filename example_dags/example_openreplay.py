"""Delete an OpenReplay user's data, wait for the nightly job in the triggerer, then list the jobs."""

from __future__ import annotations

from typing import Any

from _settings import DEMO_USER, START, poll_seconds
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_tasks.operators.openreplay import OpenReplayDeleteUserDataOperator, OpenReplayListJobsOperator
from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor

with DAG(
    dag_id="example_openreplay",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"user_id": DEMO_USER},
    tags=["example", "openreplay"],
    doc_md=__doc__,
):
    # [START openreplay_delete_user_data]
    delete_user = OpenReplayDeleteUserDataOperator(task_id="delete_user_data", user_id="{{ params.user_id }}")
    # [END openreplay_delete_user_data]
    # [START openreplay_sensor]
    wait_for_job = OpenReplayJobSensor(
        task_id="wait_for_deletion",
        job_id="{{ ti.xcom_pull(task_ids='delete_user_data')['jobId'] }}",
        deferrable=True,
        poke_interval=poll_seconds(300),
        timeout=36 * 3600,  # jobs run once a night
    )
    # [END openreplay_sensor]
    # [START openreplay_list_jobs]
    list_jobs = OpenReplayListJobsOperator(
        task_id="list_deletion_jobs", action="delete_user_data", reference_id="{{ params.user_id }}"
    )
    # [END openreplay_list_jobs]

    @task
    def report(job: dict[str, Any], jobs: list[dict[str, Any]]) -> str:
        return f"job {job['jobId']} {job['status']}; {len(jobs)} deletion job(s) for this user"

    delete_user >> wait_for_job >> list_jobs
    report(wait_for_job.output, list_jobs.output)

"""Cancel an OpenReplay deletion job requested by mistake: trigger with ``{"job_id": <jobId>}``.

A job that already finished is left as it is (``fail_if_finished=False``): the task succeeds, logs
what the job ended as, and the report says so. A ``failed`` job is never sent the cancel.
"""

from __future__ import annotations

from typing import Any

from _settings import DEMO_MISTAKEN_JOB, START
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_tasks.operators.openreplay import OpenReplayCancelJobOperator

with DAG(
    dag_id="example_openreplay_cancel",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"job_id": DEMO_MISTAKEN_JOB},
    tags=["example", "openreplay"],
    doc_md=__doc__,
):
    # [START openreplay_cancel_job]
    cancel = OpenReplayCancelJobOperator(
        task_id="cancel_deletion",
        job_id="{{ params.job_id }}",
        fail_if_finished=False,  # a job that already ran is not an error here
    )
    # [END openreplay_cancel_job]

    @task
    def report(job: dict[str, Any]) -> str:
        return f"job {job['jobId']} of {job['referenceId']} is {job['status']}"

    report(cancel.output)

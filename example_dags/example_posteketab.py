"""Wait for a Post-e-Ketab Excel import, fetch its rows, and branch on the rows that failed.

The report also counts the earlier Excel imports of the account that failed, for someone to look at."""

from __future__ import annotations

from typing import Any

from _settings import DEMO_IMPORT_TASK, START, poll_seconds
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_tasks.operators.posteketab import (
    PostEKetabListTasksOperator,
    PostEKetabTaskResultOperator,
    failed_rows,
)
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor

with DAG(
    dag_id="example_posteketab",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"import_task_id": DEMO_IMPORT_TASK},
    tags=["example", "posteketab"],
    doc_md=__doc__,
):
    # [START posteketab_sensor]
    wait_for_import = PostEKetabTaskSensor(
        task_id="wait_for_import",
        posteketab_task_id="{{ params.import_task_id }}",
        deferrable=True,
        poke_interval=poll_seconds(30),
        timeout=6 * 3600,
    )
    # [END posteketab_sensor]
    # [START posteketab_task_result]
    fetch_rows = PostEKetabTaskResultOperator(
        task_id="fetch_rows",
        posteketab_task_id="{{ params.import_task_id }}",
        wait_for_completion=False,  # the sensor above already waited
    )
    # [END posteketab_task_result]
    # [START posteketab_list_tasks]
    failed_imports = PostEKetabListTasksOperator(
        task_id="list_failed_imports",
        posteketab_task_type=0,  # add orders from an Excel file
        posteketab_task_status=4,  # error
    )
    # [END posteketab_list_tasks]

    @task.branch
    def check_rows(rows: list[dict[str, Any]]) -> str:
        return "review_failed_rows" if failed_rows(rows) else "all_rows_ok"

    @task
    def review_failed_rows(rows: list[dict[str, Any]]) -> str:
        bad = failed_rows(rows)
        for row in bad:
            print(f"row {row.get('local_id')}: {row.get('message')}")
        return f"{len(bad)} of {len(rows)} rows need review"

    @task
    def all_rows_ok(rows: list[dict[str, Any]]) -> str:
        return f"all {len(rows)} rows imported"

    @task(trigger_rule="none_failed_min_one_success")
    def report(rows: list[dict[str, Any]], earlier_failures: list[dict[str, Any]]) -> str:
        return (
            f"import finished: {len(rows)} rows, {len(failed_rows(rows))} failed; "
            f"{len(earlier_failures)} Excel import(s) of the account failed"
        )

    rows = fetch_rows.output
    wait_for_import >> fetch_rows
    branch = check_rows(rows)
    branch >> [review_failed_rows(rows), all_rows_ok(rows)] >> report(rows, failed_imports.output)

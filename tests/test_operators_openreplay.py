"""OpenReplay operators against the simulator."""

from __future__ import annotations

import pytest
from _helpers import run_trigger

from airflow_provider_tasks.exceptions import RemoteTaskFailed
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.operators.openreplay import (
    OpenReplayCancelJobOperator,
    OpenReplayDeleteUserDataOperator,
    OpenReplayListJobsOperator,
)
from airflow_provider_tasks.simulator import Step

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 2.11
    from airflow.exceptions import TaskDeferred


def status_of(job_id):
    return OpenReplayHook().get_job(job_id)["status"]


@pytest.mark.parametrize("status", ["scheduled", "running"])
def test_cancel_active_job(sim, context, status):
    job_id = sim.openreplay.add_job(steps=[Step(status)])
    result = OpenReplayCancelJobOperator(task_id="c", job_id=job_id).execute(context)
    assert result["status"] == "cancelled" and status_of(job_id) == "cancelled"


def test_cancel_already_cancelled_succeeds(sim, context):
    job_id = sim.openreplay.add_job(steps=[Step("cancelled")])
    assert OpenReplayCancelJobOperator(task_id="c", job_id=job_id).execute(context)["status"] == "cancelled"
    assert sim.count("openreplay", method="DELETE") == 0


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_cancel_finished_job_fails_and_never_overwrites_failed(sim, context, status):
    job_id = sim.openreplay.add_job(steps=[Step(status)], errors="boom" if status == "failed" else None)
    with pytest.raises(RemoteTaskFailed, match=f"already {status}"):
        OpenReplayCancelJobOperator(task_id="c", job_id=job_id).execute(context)
    result = OpenReplayCancelJobOperator(task_id="c2", job_id=job_id, fail_if_finished=False).execute(context)
    assert result["status"] == status
    assert status_of(job_id) == status
    assert sim.count("openreplay", method="DELETE") == 0


def test_cancel_templated_id_checked(sim, context):
    operator = OpenReplayCancelJobOperator(task_id="c", job_id="{{ params.job }}")
    operator.job_id = "not-a-number"
    with pytest.raises(ValueError, match="job_id"):
        operator.execute(context)
    assert sim.count() == 0


def test_delete_user_data_returns_the_new_job(sim, context):
    result = OpenReplayDeleteUserDataOperator(task_id="d", user_id="u@example.com").execute(context)
    assert result["status"] == "scheduled" and isinstance(result["jobId"], int)
    assert result["referenceId"] == "u@example.com"


def test_delete_user_data_reuses_the_active_job_on_409(sim, context):
    first = OpenReplayHook().delete_user_data("dup@example.com")
    result = OpenReplayDeleteUserDataOperator(task_id="d", user_id="dup@example.com").execute(context)
    assert result["jobId"] == first["jobId"]


def test_delete_user_data_waits_in_blocking_mode(sim, context):
    result = OpenReplayDeleteUserDataOperator(
        task_id="d", user_id="w@example.com", wait_for_completion=True, poll_interval=0.05
    ).execute(context)
    assert result["status"] == "completed"


def test_delete_user_data_waits_in_deferrable_mode(sim, context):
    operator = OpenReplayDeleteUserDataOperator(
        task_id="d", user_id="x@example.com", wait_for_completion=True, deferrable=True, poll_interval=0.05
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert deferred.value.trigger.cancel_on_kill is True
    result = operator.execute_complete(context, run_trigger(deferred.value.trigger), **deferred.value.kwargs)
    assert result["status"] == "completed"


def test_timeout_cancels_the_owned_job_in_deferrable_mode(sim, context):
    from airflow.providers.common.compat.sdk import AirflowTaskTimeout

    sim.openreplay.new_job_steps = [Step("scheduled")]
    operator = OpenReplayDeleteUserDataOperator(
        task_id="d",
        user_id="t@example.com",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=0.05,
        timeout=0.3,
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    job_id = deferred.value.kwargs["item_id"]
    with pytest.raises(AirflowTaskTimeout):
        operator.execute_complete(context, run_trigger(deferred.value.trigger), **deferred.value.kwargs)
    assert status_of(job_id) == "cancelled"


def test_timeout_cancels_the_owned_job_in_blocking_mode(sim, context):
    from airflow.providers.common.compat.sdk import AirflowTaskTimeout

    sim.openreplay.new_job_steps = [Step("scheduled")]
    with pytest.raises(AirflowTaskTimeout):
        OpenReplayDeleteUserDataOperator(
            task_id="d", user_id="tb@example.com", wait_for_completion=True, poll_interval=0.05, timeout=0.3
        ).execute(context)
    job = next(OpenReplayHook().iter_jobs())
    assert job["referenceId"] == "tb@example.com" and job["status"] == "cancelled"


def test_a_reused_job_is_not_cancelled_on_timeout(sim, context):
    from airflow.providers.common.compat.sdk import AirflowTaskTimeout

    sim.openreplay.new_job_steps = [Step("scheduled")]
    theirs = OpenReplayHook().delete_user_data("shared@example.com")
    with pytest.raises(AirflowTaskTimeout):
        OpenReplayDeleteUserDataOperator(
            task_id="d", user_id="shared@example.com", wait_for_completion=True, poll_interval=0.05, timeout=0.3
        ).execute(context)
    assert status_of(theirs["jobId"]) == "scheduled"


def test_on_kill_cancels_the_owned_job_while_waiting(sim, context):
    import threading
    import time

    sim.openreplay.new_job_steps = [Step("scheduled")]
    operator = OpenReplayDeleteUserDataOperator(
        task_id="d", user_id="k@example.com", wait_for_completion=True, poll_interval=0.05, timeout=3
    )
    outcome: list[BaseException] = []
    killed: list[dict] = []

    def kill() -> None:  # Airflow kills from outside the waiting code; execute stays in the main thread
        time.sleep(0.5)  # (Airflow 2.11's execute guard fails in any other thread: apache/airflow#44646)
        operator.on_kill()
        killed.append(next(OpenReplayHook().iter_jobs()))

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        operator.execute(context)
    except BaseException as error:  # the wait ends with the job's terminal status
        outcome.append(error)
    killer.join(10)
    job = killed[0]
    assert job["status"] == "cancelled"
    assert outcome and isinstance(outcome[0], RemoteTaskFailed)  # the wait saw the cancellation


def test_list_jobs_filters_every_page(sim, context):
    ids = [
        sim.openreplay.add_job(user_id=f"u{i}", steps=[Step("completed" if i % 2 else "failed")]) for i in range(250)
    ]
    result = OpenReplayListJobsOperator(task_id="l", status="failed").execute(context)
    assert len(result) == 125 and all(job["status"] == "failed" for job in result)
    assert result[0]["jobId"] == max(ids[0::2])
    one = OpenReplayListJobsOperator(task_id="l2", reference_id="u7", action="delete_user_data").execute(context)
    assert [job["referenceId"] for job in one] == ["u7"]


def test_list_jobs_status_filter_checked():
    with pytest.raises(ValueError, match="status"):
        OpenReplayListJobsOperator(task_id="l", status="done")

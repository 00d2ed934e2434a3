"""OpenReplay jobs our operators create or cancel: a cancel that cannot lie (issue 9.6), and the
timeouts users set, execution_timeout included, in poke mode and deferred (issue 9.4)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from _helpers import run_trigger
from airflow.providers.common.compat.sdk import AirflowTaskTimeout

from airflow_provider_tasks.exceptions import RemoteTaskFailed
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.operators.openreplay import OpenReplayCancelJobOperator, OpenReplayDeleteUserDataOperator
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.waits.policy import DEFAULT_TIMEOUT

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 2.11
    from airflow.exceptions import TaskDeferred


def _deletes(sim) -> int:
    return sim.count("openreplay", method="DELETE", path="/jobs/")


# ---------------------------------------------------------------------------------------------- cancel
def test_a_job_that_failed_while_the_cancel_went_unanswered_stays_failed(sim, context):
    # Read: scheduled; the DELETE meets a 503 (not processed); the job fails meanwhile.
    job_id = sim.openreplay.add_job(steps=[Step("scheduled", polls=1), Step("failed")], errors="disk full")
    sim.add_fault("openreplay", "http", status=503, method="DELETE", times=1)
    operator = OpenReplayCancelJobOperator(task_id="cancel", job_id=job_id)
    with pytest.raises(RemoteTaskFailed, match=r"already failed.*disk full"):
        operator.execute(context)
    assert _deletes(sim) == 1, "no second DELETE after the job was seen failed"
    job = OpenReplayHook().get_job(job_id)
    assert job["status"] == "failed" and job["errors"] == "disk full"


def test_a_cancel_whose_answer_was_lost_is_recognised(sim, context):
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    # The DELETE is processed, but the connection drops before the answer: read, see it cancelled.
    sim.add_fault("openreplay", "truncated_json", method="DELETE", times=1)
    job = OpenReplayCancelJobOperator(task_id="cancel", job_id=job_id).execute(context)
    assert job["status"] == "cancelled" and _deletes(sim) == 1


def test_an_unanswered_cancel_of_a_job_still_active_is_decided_again(sim, context):
    job_id = sim.openreplay.add_job(steps=[Step("running")])
    sim.add_fault("openreplay", "http", status=502, method="DELETE", times=2)
    job = OpenReplayCancelJobOperator(task_id="cancel", job_id=job_id).execute(context)
    assert job["status"] == "cancelled"
    assert _deletes(sim) == 3  # each DELETE followed a read that still saw the job running


@pytest.mark.parametrize("fail_if_finished", [True, False])
def test_a_job_that_completed_between_the_read_and_the_cancel_honours_fail_if_finished(sim, context, fail_if_finished):
    job_id = sim.openreplay.add_job(steps=[Step("scheduled", polls=1), Step("completed")])
    operator = OpenReplayCancelJobOperator(task_id="cancel", job_id=job_id, fail_if_finished=fail_if_finished)
    if fail_if_finished:
        with pytest.raises(RemoteTaskFailed, match="already completed"):
            operator.execute(context)
    else:
        assert operator.execute(context)["status"] == "completed"
    assert OpenReplayHook().get_job(job_id)["status"] == "completed"


# ---------------------------------------------------------------------------------------------- timeouts
def test_waiting_operators_wait_seven_days_by_default():
    operator = OpenReplayDeleteUserDataOperator(task_id="d", user_id="u", wait_for_completion=True)
    assert operator.timeout == DEFAULT_TIMEOUT == 7 * 24 * 3600


def test_execution_timeout_in_poke_mode_cancels_the_owned_job(sim, context):
    """Airflow's task runner raises AirflowTaskTimeout inside execute() (SIGALRM), then calls on_kill()."""
    from airflow.providers.common.compat.sdk import timeout as airflow_timeout

    sim.openreplay.new_job_steps = [Step("scheduled")]
    operator = OpenReplayDeleteUserDataOperator(
        task_id="d",
        user_id="slow@example.com",
        wait_for_completion=True,
        poll_interval=0.05,
        execution_timeout=timedelta(seconds=1),
    )
    started = time.monotonic()
    with pytest.raises(AirflowTaskTimeout), airflow_timeout(1):
        operator.execute(context)
    operator.on_kill()  # what the task runner does next: must not cancel twice
    assert time.monotonic() - started < 5
    (job,) = OpenReplayHook().list_jobs()
    assert job["status"] == "cancelled" and _deletes(sim) == 1


def test_execution_timeout_of_a_deferred_wait_ends_it_and_cancels_the_owned_job(sim, context):
    sim.openreplay.new_job_steps = [Step("scheduled")]
    operator = OpenReplayDeleteUserDataOperator(
        task_id="d",
        user_id="deferred@example.com",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=0.05,
        execution_timeout=timedelta(seconds=1),  # nearer than the 7-day timeout: it is the deadline
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert trigger.deadline_limit == "execution_timeout" and trigger.end_time <= time.time() + 1
    event = run_trigger(trigger)
    assert event["status"] == "timeout" and event["limit"] == "execution_timeout"
    with pytest.raises(AirflowTaskTimeout, match="execution_timeout"):
        operator.execute_complete(context, event, **deferred.value.kwargs)
    (job,) = OpenReplayHook().list_jobs()
    assert job["status"] == "cancelled" and _deletes(sim) == 1


def test_airflow_ending_the_deferral_itself_still_cancels_the_owned_job(sim, context):
    """The triggerer was down past the deadline: Airflow resumes the task with __fail__ and replaces
    the deferral's kwargs; the job id was kept in XCom for this."""
    sim.openreplay.new_job_steps = [Step("scheduled")]
    operator = OpenReplayDeleteUserDataOperator(
        task_id="d", user_id="orphan@example.com", wait_for_completion=True, deferrable=True, timeout=60
    )
    with pytest.raises(TaskDeferred):
        operator.execute(context)
    with pytest.raises(AirflowTaskTimeout):
        operator.resume_execution("__fail__", {"error": "Trigger timeout"}, context)
    (job,) = OpenReplayHook().list_jobs()
    assert job["status"] == "cancelled"

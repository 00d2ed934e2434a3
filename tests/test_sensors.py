"""The three sensors in poke, reschedule and deferrable mode: same outcome in every mode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from _helpers import drive_sensor, run_trigger
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, AirflowSkipException

from airflow_provider_tasks.exceptions import RemoteTaskFailed, RemoteTaskNotFound
from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor
from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor
from airflow_provider_tasks.simulator import Step

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 2.11
    from airflow.exceptions import TaskDeferred


@dataclass
class Case:
    sensor: type
    id_kwarg: str
    add: Callable[[Any, list[Step]], Any]
    running: list[Step]
    success: Step
    failure: Step
    missing_id: Any
    poke_interval: float
    done_key: str
    done_value: Any


CASES = {
    "posteketab": Case(
        PostEKetabTaskSensor,
        "posteketab_task_id",
        lambda sim, steps: sim.posteketab.add_task(steps=steps),
        [Step(0, polls=1), Step(2, polls=1)],
        Step(3),
        Step(4),
        "missing-task",
        0.05,
        "task_status",
        3,
    ),
    "openreplay": Case(
        OpenReplayJobSensor,
        "job_id",
        lambda sim, steps: sim.openreplay.add_job(steps=steps),
        [Step("scheduled", polls=1), Step("running", polls=1)],
        Step("completed"),
        Step("failed"),
        987654,
        0.05,
        "status",
        "completed",
    ),
    "mobizon": Case(
        MobizonTaskSensor,
        "mobizon_task_id",
        lambda sim, steps: sim.mobizon.add_task(steps=steps),
        [Step(1, polls=1, progress=40)],
        Step(2, progress=100),
        Step(3, progress=10),
        987654,
        1.0,
        "status",
        2,
    ),
}


def make(case: Case, item_id: Any, **kwargs: Any) -> Any:
    return case.sensor(task_id="wait", poke_interval=case.poke_interval, **{case.id_kwarg: item_id}, **kwargs)


def run(sensor: Any, mode: str, context: dict[str, Any]) -> Any:
    """Drive a sensor like Airflow does in ``mode`` and return its XCom value (or raise)."""

    def check_deferral(deferred: Any) -> None:
        assert deferred.method_name == "execute_complete"
        assert deferred.timeout == timedelta(seconds=sensor.timeout)

    return drive_sensor(sensor, context, mode, on_defer=check_deferral, tries=50)


MODES = ["poke", "reschedule", "deferrable"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", list(CASES))
def test_success_returns_the_final_remote_object(sim, context, service, mode):
    case = CASES[service]
    item_id = case.add(sim, [*case.running, case.success])
    result = run(make(case, item_id), mode, context)
    assert isinstance(result, dict)
    assert result[case.done_key] == case.done_value
    assert any(key.startswith("_link_") for key in context["ti"].xcom), "extra link pushed before waiting"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", list(CASES))
def test_failure_raises_remote_task_failed(sim, context, service, mode):
    case = CASES[service]
    item_id = case.add(sim, [*case.running, case.failure])
    with pytest.raises(RemoteTaskFailed) as info:
        run(make(case, item_id), mode, context)
    assert str(item_id) in str(info.value)
    assert info.value.details is not None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", list(CASES))
def test_soft_fail_turns_failure_into_skip(sim, context, service, mode):
    case = CASES[service]
    item_id = case.add(sim, [case.failure])
    with pytest.raises(AirflowSkipException):
        run(make(case, item_id, soft_fail=True), mode, context)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", list(CASES))
def test_not_found_fails(sim, context, service, mode):
    case = CASES[service]
    with pytest.raises(RemoteTaskNotFound):
        run(make(case, case.missing_id), mode, context)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", list(CASES))
def test_soft_fail_never_skips_a_not_found_id(sim, context, service, mode):
    # Issue 9: soft_fail skips what Airflow's own sensors skip (a remote failure, a timeout), not errors.
    case = CASES[service]
    with pytest.raises(RemoteTaskNotFound):
        run(make(case, case.missing_id, soft_fail=True), mode, context)


@pytest.mark.parametrize("service", list(CASES))
def test_timeout_in_poke_mode(sim, context, service):
    case = CASES[service]
    item_id = case.add(sim, [Step(case.running[-1].status)])
    with pytest.raises(AirflowSensorTimeout):
        run(make(case, item_id, timeout=0.5), "poke", context)


@pytest.mark.parametrize("service", list(CASES))
def test_timeout_in_deferrable_mode(sim, context, service):
    case = CASES[service]
    item_id = case.add(sim, [Step(case.running[-1].status)])
    sensor = make(case, item_id, timeout=1.5, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    assert deferred.value.timeout == timedelta(seconds=1.5)
    event = run_trigger(deferred.value.trigger)
    assert event["status"] == "timeout"
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(context, event)
    soft = make(case, item_id, timeout=1.5, deferrable=True, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        soft.execute_complete(context, event)


@pytest.mark.parametrize("service", list(CASES))
def test_finished_task_never_defers(sim, context, service):
    case = CASES[service]
    item_id = case.add(sim, [case.success])
    assert make(case, item_id, deferrable=True).execute(context)[case.done_key] == case.done_value


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        {"status": "weird"},
        "success",
        {"status": "success"},
        {"status": "success", "id": "other", "remote": {}},
    ],
)
@pytest.mark.parametrize("service", list(CASES))
def test_resume_event_is_validated(sim, context, service, event):
    case = CASES[service]
    item_id = case.add(sim, [case.success])
    with pytest.raises(Exception) as info:
        make(case, item_id).execute_complete(context, event)
    assert not isinstance(info.value, AirflowSkipException)


@pytest.mark.parametrize("service", list(CASES))
def test_templated_id_rendering_empty_is_refused_before_any_request(sim, context, service):
    case = CASES[service]
    sensor = make(case, "{{ params.missing }}")
    assert case.id_kwarg in sensor.template_fields
    setattr(sensor, case.id_kwarg, "")  # what an empty rendering leaves
    with pytest.raises(ValueError, match=case.id_kwarg):
        sensor.execute(context)
    assert sim.count() == 0


@pytest.mark.parametrize("service", list(CASES))
@pytest.mark.parametrize("bad", [None, "", "   "])
def test_literal_bad_ids_fail_at_construction(service, bad):
    case = CASES[service]
    with pytest.raises(ValueError, match=case.id_kwarg):
        make(case, bad)


def test_default_poll_intervals_fit_each_service():
    assert PostEKetabTaskSensor(task_id="a", posteketab_task_id="x").poke_interval == 30
    assert OpenReplayJobSensor(task_id="b", job_id=1).poke_interval == 300
    assert MobizonTaskSensor(task_id="c", mobizon_task_id=1).poke_interval == 5
    assert MobizonTaskSensor(task_id="d", mobizon_task_id=1, poke_interval=0.1).poke_interval == 1.0


def test_default_deferrable_follows_airflow_config(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert PostEKetabTaskSensor(task_id="a", posteketab_task_id="x").deferrable is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    assert PostEKetabTaskSensor(task_id="b", posteketab_task_id="x").deferrable is False


def test_mobizon_progress_is_logged_as_it_moves(sim, context, logs):
    item_id = sim.mobizon.add_task(
        steps=[Step(1, polls=1, progress=40), Step(1, polls=1, progress=80), Step(2, progress=100)]
    )
    make(CASES["mobizon"], item_id).execute(context)
    text = logs()
    assert "progress 40%" in text and "progress 80%" in text and "progress 100%" in text


def test_a_transient_outage_does_not_end_the_wait(sim, context):
    case = CASES["posteketab"]
    item_id = case.add(sim, [*case.running, case.success])
    sim.add_fault("posteketab", "http", status=503, times=7)  # more than one call's retry budget
    assert run(make(case, item_id), "poke", context)["task_status"] == 3


@pytest.mark.parametrize("error", ["Trigger timeout", "Trigger/execution timeout"])  # Airflow 3's, Airflow 2.11's
@pytest.mark.parametrize("service", list(CASES))
def test_airflow_deferral_timeout_ends_as_a_sensor_timeout(context, service, error):
    """Airflow's own deferral timeout (the trigger's deadline missed) ends like the trigger's timeout event."""
    case = CASES[service]
    with pytest.raises(AirflowSensorTimeout, match="deferral"):
        make(case, case.missing_id).resume_execution("__fail__", {"error": error}, context)
    with pytest.raises(AirflowSkipException):
        make(case, case.missing_id, soft_fail=True).resume_execution("__fail__", {"error": error}, context)
    with pytest.raises(AirflowSkipException):
        make(case, case.missing_id, never_fail=True).resume_execution("__fail__", {"error": error}, context)


@pytest.mark.parametrize("service", list(CASES))
def test_resume_goes_through_execute_complete(context, service):
    case = CASES[service]
    event = {"status": "failed", "service": "x", "id": case.missing_id, "state": "failed", "remote": {"a": 1}}
    with pytest.raises(RemoteTaskFailed):
        make(case, case.missing_id).resume_execution("execute_complete", {"event": event}, context)
    with pytest.raises(AirflowSkipException):
        make(case, case.missing_id, never_fail=True).resume_execution("execute_complete", {"event": event}, context)
    success = {**event, "status": "success", "state": "succeeded"}
    assert make(case, case.missing_id).resume_execution("execute_complete", {"event": success}, context) == {"a": 1}

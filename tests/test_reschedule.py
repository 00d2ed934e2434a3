"""Reschedule mode as Airflow runs it: a new sensor instance per try, state only where Airflow keeps it."""

from __future__ import annotations

import pytest
from _helpers import _deferral_exceptions

from airflow_provider_tasks.exceptions import RemoteTransientError
from airflow_provider_tasks.sensors import base as sensors_base
from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor
from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.testing import FakeTaskStateStore

_, Reschedule = _deferral_exceptions()


def _try(context: dict, job_id: int, **kwargs) -> object:
    """One try of the task: Airflow builds the sensor anew for each."""
    sensor = OpenReplayJobSensor(task_id="wait", job_id=job_id, mode="reschedule", poke_interval=0.01, **kwargs)
    return sensor.execute(context)


def test_the_failure_budget_survives_reschedules_in_the_task_state_store(sim, context):
    """Issue 9.5: the budget lived on the sensor instance, which every reschedule rebuilds, so a
    permanent 503 rescheduled until the 7-day timeout."""
    sim.add_fault("openreplay", "http", status=503, times=10**6)
    context["task_state_store"] = FakeTaskStateStore()
    for _ in range(2):
        with pytest.raises(Reschedule):
            _try(context, 1000, max_consecutive_failures=3)
    with pytest.raises(RemoteTransientError):
        _try(context, 1000, max_consecutive_failures=3)
    assert sim.count("openreplay") == 3 * 5  # three polls, each retried five times by the hook


def test_a_success_resets_the_count_kept_between_reschedules(sim, context):
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    store = context["task_state_store"] = FakeTaskStateStore()
    sim.add_fault("openreplay", "http", status=503, times=5)  # one poll's five tries
    with pytest.raises(Reschedule):
        _try(context, job_id, max_consecutive_failures=2)
    assert store.values[sensors_base._FAILURES_KEY]["failures"] == 1
    with pytest.raises(Reschedule):
        _try(context, job_id, max_consecutive_failures=2)  # reads "scheduled": the count is gone
    assert sensors_base._FAILURES_KEY not in store.values


def test_a_new_try_starts_with_a_fresh_budget(sim, context):
    store = context["task_state_store"] = FakeTaskStateStore()
    store.set(sensors_base._FAILURES_KEY, {"try": 1, "failures": 2})
    context["ti"].try_number = 2  # a retry of the task, not a reschedule of try 1
    sim.add_fault("openreplay", "http", status=503, times=5)
    with pytest.raises(Reschedule):
        _try(context, 1000, max_consecutive_failures=3)
    assert store.values[sensors_base._FAILURES_KEY] == {"try": 2, "failures": 1}


def test_without_a_task_state_store_the_budget_is_spent_within_one_try(sim, context):
    """Airflow < 3.3 keeps no state between reschedules: a failing poll is retried inside the try."""
    sim.add_fault("openreplay", "http", status=503, times=10**6)
    with pytest.raises(RemoteTransientError):
        _try(context, 1000, max_consecutive_failures=3)
    assert sim.count("openreplay") == 3 * 5


def test_reschedule_mode_raises_a_short_interval_to_the_floor_and_says_so(sim, context, monkeypatch, logs):
    monkeypatch.setattr(sensors_base, "RESCHEDULE_MIN_INTERVAL", 30.0)
    task_id = sim.mobizon.add_task(steps=[Step(1, progress=10)])
    sensor = MobizonTaskSensor(task_id="wait", mobizon_task_id=task_id, mode="reschedule", poke_interval=5)
    with pytest.raises(Reschedule) as rescheduled:
        sensor.execute(context)
    assert sensor.poke_interval == 30.0
    assert "reschedule-mode minimum (apache/airflow#71172)" in logs()
    from airflow.providers.common.compat.sdk import timezone

    assert (rescheduled.value.reschedule_date - timezone.utcnow()).total_seconds() > 25

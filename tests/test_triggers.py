"""Triggers: serialization round trips, events, and transient failures inside a long wait."""

from __future__ import annotations

import importlib
import time

import pytest
from _helpers import run_trigger

from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.triggers.mobizon import MobizonTaskTrigger
from airflow_provider_tasks.triggers.openreplay import OpenReplayJobTrigger
from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskTrigger

TRIGGERS = [
    PostEKetabTaskTrigger(posteketab_task_id="abc", posteketab_conn_id="c1", poll_interval=7, end_time=123.0),
    OpenReplayJobTrigger(job_id=5, openreplay_conn_id="c2", project_key="pk", cancel_on_kill=True),
    MobizonTaskTrigger(mobizon_task_id=9, mobizon_conn_id="c3", poll_interval=0.2, max_consecutive_failures=3),
]


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: type(t).__name__)
def test_serialize_round_trips(trigger):
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert type(rebuilt) is type(trigger)


def test_mobizon_trigger_never_polls_faster_than_once_a_second():
    assert TRIGGERS[2].poll_interval == 1.0


def test_success_event_carries_the_remote_object(sim):
    task_id = sim.posteketab.add_task(steps=[Step(2, polls=2), Step(3)])
    event = run_trigger(PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.05))
    assert event["status"] == "success" and event["id"] == task_id
    assert event["remote"]["task_status"] == 3
    assert isinstance(event["remote"]["created_at"], str)  # JSON-native for the metadata DB


def test_failure_event_carries_the_details(sim):
    job_id = sim.openreplay.add_job(steps=[Step("running", polls=1), Step("failed")], errors="storage unreachable")
    event = run_trigger(OpenReplayJobTrigger(job_id=job_id, poll_interval=0.05))
    assert event["status"] == "failed" and event["state"] == "failed"
    assert event["message"] == "storage unreachable"


def test_not_found_is_an_error_event(sim):
    event = run_trigger(MobizonTaskTrigger(mobizon_task_id=777777, poll_interval=1))
    assert event["status"] == "error" and event["error_type"] == "RemoteTaskNotFound" and event["code"] == 2


def test_single_503_does_not_end_the_wait(sim):
    task_id = sim.posteketab.add_task(steps=[Step(2, polls=1), Step(3)])
    sim.add_fault("posteketab", "http", status=503, times=1)
    event = run_trigger(PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.05))
    assert event["status"] == "success"


def test_outage_longer_than_one_call_is_survived(sim):
    task_id = sim.posteketab.add_task(steps=[Step(3)])
    sim.add_fault("posteketab", "http", status=502, times=8)  # 5 tries per call: spans two polls
    event = run_trigger(PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.05))
    assert event["status"] == "success"


def test_consecutive_failures_are_bounded(sim):
    sim.add_fault("openreplay", "http", status=500, times=1000)
    trigger = OpenReplayJobTrigger(job_id=1, poll_interval=0.01, max_consecutive_failures=2)
    event = run_trigger(trigger)
    assert event["status"] == "error" and event["error_type"] == "RemoteTransientError" and event["code"] == 500
    assert sim.count("openreplay") == 2 * 5


def test_end_time_fires_a_timeout_event(sim):
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    started = time.monotonic()
    event = run_trigger(OpenReplayJobTrigger(job_id=job_id, poll_interval=10, end_time=time.time() + 0.5))
    assert event["status"] == "timeout" and "pending" in event["message"]
    assert time.monotonic() - started < 5


def _task_states(monkeypatch, answer):
    """Stand in for the triggerer's supervisor, which answers RuntimeTaskInstance.get_task_states in a
    real triggerer (tests/e2e proves that path): ``answer`` is the state, or an exception to raise."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    asked = []

    def get_task_states(**kwargs):
        asked.append(kwargs)
        if isinstance(answer, BaseException):
            raise answer
        return {"run-1": {"wait": answer}}

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(get_task_states))
    return asked


def _owned_trigger(job_id, cancel_on_kill=True):
    from types import SimpleNamespace

    trigger = OpenReplayJobTrigger(job_id=job_id, cancel_on_kill=cancel_on_kill)
    trigger.task_instance = SimpleNamespace(dag_id="d", task_id="wait", run_id="run-1", map_index=-1)
    return trigger


@pytest.mark.parametrize(
    ("state", "cancelled"),
    [
        ("failed", True),  # marked failed by a user
        (None, True),  # cleared
        ("deferred", False),  # moved to another triggerer (failover): the job is still wanted
        ("scheduled", False),  # resuming: the other triggerer already fired
        ("success", False),
        (RuntimeError("supervisor gone"), False),  # in doubt, never cancel
    ],
)
def test_on_kill_cancels_an_owned_job_only_when_its_task_was_stopped(sim, monkeypatch, state, cancelled):
    import asyncio

    from airflow_provider_tasks.hooks.openreplay import OpenReplayHook

    pytest.importorskip("airflow.sdk.execution_time.task_runner")
    asked = _task_states(monkeypatch, state)
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    asyncio.run(_owned_trigger(job_id).on_kill())
    assert asked == [{"dag_id": "d", "task_ids": ["wait"], "run_ids": ["run-1"], "map_index": None}]
    assert OpenReplayHook().get_job(job_id)["status"] == ("cancelled" if cancelled else "scheduled")
    assert sim.count("openreplay", method="DELETE") == (1 if cancelled else 0)


def test_on_kill_never_cancels_a_job_the_task_did_not_create(sim, monkeypatch):
    import asyncio

    pytest.importorskip("airflow.sdk.execution_time.task_runner")
    asked = _task_states(monkeypatch, "failed")
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    asyncio.run(_owned_trigger(job_id, cancel_on_kill=False).on_kill())
    assert asked == [] and sim.count("openreplay", method="DELETE") == 0


def test_on_kill_of_a_mapped_task_reads_its_own_state(sim, monkeypatch):
    import asyncio

    task_runner = pytest.importorskip("airflow.sdk.execution_time.task_runner")
    RuntimeTaskInstance = task_runner.RuntimeTaskInstance

    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    monkeypatch.setattr(
        RuntimeTaskInstance,
        "get_task_states",
        staticmethod(lambda **kw: {"run-1": {"wait_3": "failed", "wait_4": "deferred"}}),
    )
    trigger = _owned_trigger(job_id)
    trigger.task_instance.map_index = 4
    asyncio.run(trigger.on_kill())
    assert sim.count("openreplay", method="DELETE") == 0  # map index 4 is still deferred

"""start_from_trigger: the task's arguments for the triggerer, what the triggerer makes of them (Airflow
3.3's serialization and template rendering), the resume, and every fallback with its one log line."""

from __future__ import annotations

import asyncio
import datetime
import importlib
from typing import Any

import pytest
from _helpers import run_trigger

from airflow_provider_tasks.operators.posteketab import PostEKetabTaskResultOperator
from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor
from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.triggers import starting
from airflow_provider_tasks.triggers.openreplay import OpenReplayJobTrigger
from airflow_provider_tasks.waits.policy import DEFERRAL_BACKSTOP

AIRFLOW_33 = starting.airflow_reason() is None
needs_33 = pytest.mark.skipif(not AIRFLOW_33, reason="Airflow 3.3+ starts tasks in the triggerer")


def _task_deferred() -> type[BaseException]:
    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 2.11
        from airflow.exceptions import TaskDeferred
    return TaskDeferred  # type: ignore[no-any-return]


def _sensors() -> list[Any]:
    return [
        OpenReplayJobSensor(
            task_id="w1", job_id="{{ params.job_id }}", project_key="{{ params.pk }}", start_from_trigger=True
        ),
        PostEKetabTaskSensor(task_id="w2", posteketab_task_id="{{ params.task_id }}", start_from_trigger=True),
        MobizonTaskSensor(task_id="w3", mobizon_task_id=5001, start_from_trigger=True, poke_interval=0.2),
        PostEKetabTaskResultOperator(task_id="w4", posteketab_task_id="{{ params.task_id }}", start_from_trigger=True),
    ]


class _RenderTI:
    """The part of the triggerer's RuntimeTaskInstance a trigger uses: its task and its identity."""

    dag_id, task_id, run_id, map_index = "d", "w", "r", -1

    def __init__(self, task: Any) -> None:
        self.task = task


@pytest.fixture
def pushed(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[Any, ...], Any]:
    """The XComs the trigger pushes from the triggerer (through ``XCom.aset``)."""
    from airflow.providers.common.compat.sdk import XCom

    found: dict[tuple[Any, ...], Any] = {}

    async def aset(*, key: str, value: Any, dag_id: str, task_id: str, run_id: str, map_index: int) -> None:
        found[(dag_id, task_id, run_id, map_index, key)] = value

    monkeypatch.setattr(XCom, "aset", staticmethod(aset), raising=False)
    return found


def _started_in_triggerer(task: Any, context: dict[str, Any], *, timeout_after: Any = None) -> Any:
    """What Airflow 3.3 does with a task that starts in the triggerer, up to the running trigger: the
    DAG is serialized, the scheduler builds the trigger row from ``start_trigger_args``, the triggerer
    decodes its kwargs, gives it its task instance and renders the task's template fields into it."""
    from airflow.models.trigger import Trigger
    from airflow.sdk import DAG
    from airflow.serialization.decoders import smart_decode_trigger_kwargs
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("d", schedule=None) as dag:
        dag.add_task(task)
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task(task.task_id)
    args = serialized.start_trigger_args
    assert serialized.start_from_trigger is True and args.next_method == "execute_complete"
    row = Trigger(classpath=args.trigger_cls, kwargs=args.trigger_kwargs)
    kwargs = {
        key: smart_decode_trigger_kwargs(value) for key, value in Trigger._decrypt_kwargs(row.encrypted_kwargs).items()
    }
    module, _, name = args.trigger_cls.rpartition(".")
    trigger = getattr(importlib.import_module(module), name)(**kwargs)
    trigger.task_instance = _RenderTI(serialized)
    trigger.timeout_after = timeout_after
    trigger.render_template_fields(context=context)
    return trigger


def test_each_instance_gets_its_own_start_trigger_args_and_the_class_keeps_none():
    for task in _sensors():
        cls = type(task)
        assert cls.start_trigger_args is None and cls.start_from_trigger is False  # never mutated
        assert task.deferrable is True and task.start_from_trigger_asked is True
        if not AIRFLOW_33:
            assert task.start_from_trigger is False and task.start_trigger_args is None
            continue
        args = task.start_trigger_args
        assert task.start_from_trigger is True
        assert args.trigger_cls == f"{task.trigger_class.__module__}.{task.trigger_class.__qualname__}"
        assert args.next_method == "execute_complete"
        assert args.trigger_kwargs[task.trigger_class.id_kwarg] == getattr(task, task.trigger_class.id_kwarg)
        assert args.trigger_kwargs["link_key"] == task.link_class().xcom_key
    plain = OpenReplayJobSensor(task_id="plain", job_id=1, deferrable=True)
    assert plain.start_trigger_args is None and plain.start_from_trigger is False


def test_timeout_reaches_airflow_and_the_trigger():
    sensor = OpenReplayJobSensor(
        task_id="w", job_id=7, start_from_trigger=True, timeout=600, execution_timeout=datetime.timedelta(seconds=90)
    )
    if not AIRFLOW_33:
        pytest.skip("no start_trigger_args before Airflow 3.3")
    # Airflow's own deferral timeout comes the backstop later: the trigger's timeout event is first.
    assert sensor.start_trigger_args.timeout == datetime.timedelta(seconds=600 + DEFERRAL_BACKSTOP)
    assert sensor.start_trigger_args.trigger_kwargs["timeout"] == 600.0
    assert sensor.start_trigger_args.trigger_kwargs["execution_timeout"] == 90.0


def test_contradictions_fail_at_parse_time():
    with pytest.raises(ValueError, match="needs deferrable=True"):
        OpenReplayJobSensor(task_id="w", job_id=7, start_from_trigger=True, deferrable=False)
    with pytest.raises(ValueError, match="wait_for_completion"):
        PostEKetabTaskResultOperator(
            task_id="w", posteketab_task_id="t", start_from_trigger=True, wait_for_completion=False
        )


@needs_33
def test_the_triggerer_renders_the_templated_id_and_the_wait_ends_in_the_resume(sim, context, pushed):
    job_id = sim.openreplay.add_job(steps=[Step("running", polls=1), Step("completed")])
    sensor = OpenReplayJobSensor(
        task_id="w",
        job_id="{{ params.job_id }}",
        project_key="{{ params.pk }}",
        start_from_trigger=True,
        poke_interval=0.05,
    )
    trigger = _started_in_triggerer(sensor, {"params": {"job_id": job_id, "pk": sim.openreplay.project_key}})
    assert trigger.template_fields == ("job_id", "project_key")
    event = run_trigger(trigger)
    assert event["status"] == "success" and event["id"] == job_id
    assert pushed == {("d", "w", "r", -1, "_link_OpenReplayJobLink"): sim.url}  # the link, with no worker launch
    # The resume: a worker renders the task's fields and validates the event exactly as after a deferral.
    sensor.job_id, sensor.project_key = str(job_id), sim.openreplay.project_key
    assert sensor.execute_complete(context, event)["status"] == "completed"
    assert context["ti"].xcom["_link_OpenReplayJobLink"] == sim.url
    with pytest.raises(Exception, match="resume event is for id"):
        sensor.execute_complete(context, {**event, "id": job_id + 1})


@needs_33
def test_the_operator_waits_in_the_triggerer_and_reads_the_rows_in_its_one_launch(sim, context):
    rows = [{"local_id": 1, "full_name": "Sara", "province": 8, "city": 301, "message": "ok", "is_success": True}]
    task_id = sim.posteketab.add_task(steps=[Step(2, polls=1), Step(3)], task_result=rows)
    operator = PostEKetabTaskResultOperator(
        task_id="w", posteketab_task_id="{{ params.task_id }}", start_from_trigger=True, poll_interval=0.05
    )
    trigger = _started_in_triggerer(operator, {"params": {"task_id": task_id}})
    event = run_trigger(trigger)
    operator.posteketab_task_id = task_id
    assert operator.execute_complete(context, event) == rows


@needs_33
def test_a_bad_rendered_id_ends_the_wait_with_an_error_naming_it(sim, context):
    sensor = OpenReplayJobSensor(task_id="w", job_id="{{ params.job_id }}", start_from_trigger=True)
    event = run_trigger(_started_in_triggerer(sensor, {"params": {"job_id": "not-a-number"}}))
    assert event["status"] == "error" and "job_id must be a positive integer" in event["message"]
    assert sim.count("openreplay") == 0  # nothing was asked of the service, and no shared poll was spoiled
    sensor.job_id = "not-a-number"
    with pytest.raises(ValueError, match="job_id"):
        sensor.execute_complete(context, event)


def test_the_deadline_is_the_one_airflow_set_when_it_deferred_the_task(sim):
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    for execution_timeout, limit in ((None, "timeout"), (30.0, "execution_timeout")):
        trigger = OpenReplayJobTrigger(
            job_id=job_id, poll_interval=0.05, timeout=60.0, execution_timeout=execution_timeout
        )
        trigger.timeout_after = past  # a restarted triggerer gets it from the task instance
        event = run_trigger(trigger)
        assert event["status"] == "timeout" and event["limit"] == limit


def test_the_trigger_deadline_comes_before_airflows():
    now = datetime.datetime.now(datetime.UTC)
    trigger = OpenReplayJobTrigger(job_id=1, timeout=60.0)
    trigger.timeout_after = now + datetime.timedelta(seconds=60 + DEFERRAL_BACKSTOP)  # what Airflow set
    deadline = trigger._deadline()
    assert deadline.limit == "timeout" and abs(deadline.at - (now.timestamp() + 60)) < 0.01
    # execution_timeout binds Airflow exactly (no backstop): the trigger still goes first, by the lead.
    trigger = OpenReplayJobTrigger(job_id=1, timeout=600.0, execution_timeout=30.0)
    trigger.timeout_after = now + datetime.timedelta(seconds=30)
    deadline = trigger._deadline()
    assert deadline.limit == "execution_timeout"
    assert abs(deadline.at - (now.timestamp() + 30 - starting.DEFERRAL_LEAD)) < 0.01


def test_when_airflows_timeout_and_the_event_cross_the_event_decides(sim, context):
    job_id = sim.openreplay.add_job(steps=[Step("completed")])
    sensor = OpenReplayJobSensor(task_id="w", job_id=job_id, deferrable=True)
    event = run_trigger(OpenReplayJobTrigger(job_id=job_id, poll_interval=0.05))
    # The scheduler set __fail__ while the triggerer wrote the event over the error (Airflow 3.3.2).
    assert sensor.resume_execution("__fail__", {"event": event}, context)["status"] == "completed"
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=[])
    operator = PostEKetabTaskResultOperator(task_id="r", posteketab_task_id=task_id, deferrable=True)
    from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskTrigger

    event = run_trigger(PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.05))
    assert operator.resume_execution("__fail__", {"event": event}, context) == []
    assert starting.crossed_event("__fail__", {"error": "Trigger timeout"}) is None
    assert starting.crossed_event("execute_complete", {"event": event}) is None


def test_without_timeout_after_the_clock_starts_with_the_trigger(sim):
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    event = run_trigger(OpenReplayJobTrigger(job_id=job_id, poll_interval=0.05, timeout=0.3))
    assert event["status"] == "timeout" and event["limit"] == "timeout"


def test_serialize_keeps_the_start_kwargs_only_when_set():
    plain = OpenReplayJobTrigger(job_id=1).serialize()[1]
    assert not {"timeout", "execution_timeout", "link_key"} & set(plain)
    started = OpenReplayJobTrigger(job_id=1, timeout=5.0, link_key="_link_OpenReplayJobLink")
    classpath, kwargs = started.serialize()
    assert OpenReplayJobTrigger(**kwargs).serialize() == (classpath, kwargs)


# ---------------------------------------------------------------------- fallbacks


def logged(caplog: Any, capsys: Any, needle: str) -> tuple[int, str]:
    """How often ``needle`` was logged, and the text: from the log records, or (Airflow 3's structlog
    writes past them) from the captured output; never both, which Airflow 2.11 also prints."""
    records = "\n".join(record.getMessage() for record in caplog.records)
    if needle in records:
        return records.count(needle), records
    out = capsys.readouterr()
    return (out.out + out.err).count(needle), out.out + out.err


def _defers(task: Any, context: dict[str, Any]) -> Any:
    with pytest.raises(_task_deferred()) as deferred:
        task.execute(context)
    return deferred.value


def test_before_airflow_33_the_sensor_defers_from_the_worker_and_says_why(sim, context, caplog, capsys, monkeypatch):
    monkeypatch.setattr(starting, "_airflow_version", lambda: (3, 2))
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    sensor = OpenReplayJobSensor(task_id="w", job_id=job_id, start_from_trigger=True, poke_interval=5)
    assert sensor.start_from_trigger is False and sensor.start_trigger_args is None
    deferred = _defers(sensor, context)
    assert isinstance(deferred.trigger, OpenReplayJobTrigger) and deferred.trigger.delay_first_poll
    count, text = logged(caplog, capsys, "start_from_trigger=True not honoured")
    assert count == 1 and "Airflow 3.2 does not render templates in the triggerer" in text


def test_a_mapped_task_instance_defers_from_the_worker_and_says_why(sim, context, caplog, capsys):
    task_id = sim.posteketab.add_task(steps=[Step(2)])
    sensor = PostEKetabTaskSensor(task_id="w", posteketab_task_id=task_id, start_from_trigger=True)
    context["ti"].map_index = 3
    _defers(sensor, context)
    expected = "mapped task instances" if AIRFLOW_33 else "does not render templates in the triggerer"
    count, text = logged(caplog, capsys, "not honoured")
    assert count == 1 and expected in text


def test_an_unrenderable_value_keeps_the_worker_path(sim, context, caplog, capsys):
    class Opaque:
        pass

    operator = PostEKetabTaskResultOperator(task_id="w", posteketab_task_id="t", start_from_trigger=True)
    if AIRFLOW_33:
        assert "is a" not in (starting.unstartable_value({"posteketab_task_id": "t"}) or "")
    assert starting.unstartable_value({"posteketab_task_id": Opaque()}) == (
        "posteketab_task_id is a Opaque, which only a worker resolves"
    )
    task_id = sim.posteketab.add_task(steps=[Step(2)])
    operator.posteketab_task_id = task_id
    _defers(operator, context)
    assert logged(caplog, capsys, "start_from_trigger=True not honoured")[0] == 1


def test_a_task_that_did_not_ask_logs_nothing(sim, context, logs):
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    _defers(OpenReplayJobSensor(task_id="w", job_id=job_id, deferrable=True), context)
    assert "start_from_trigger" not in logs()


def test_airflow_reason_names_the_version():
    assert starting.airflow_reason((3, 3)) is None and starting.airflow_reason((4, 0)) is None
    assert "Airflow 2.11" in str(starting.airflow_reason((2, 11)))


def test_pushing_the_link_never_fails_the_wait(sim, monkeypatch):
    from airflow.providers.common.compat.sdk import XCom

    async def refuse(**_: Any) -> None:
        raise RuntimeError("no XCom for you")

    monkeypatch.setattr(XCom, "aset", staticmethod(refuse), raising=False)
    job_id = sim.openreplay.add_job(steps=[Step("completed")])
    trigger = OpenReplayJobTrigger(job_id=job_id, poll_interval=0.05, link_key="_link_OpenReplayJobLink")
    trigger.task_instance = _RenderTI(None)
    assert asyncio.run(asyncio.wait_for(_first(trigger), 30))["status"] == "success"


async def _first(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    return None

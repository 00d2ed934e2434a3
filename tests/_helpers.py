"""Helpers for the tests (importable because pytest puts this folder on sys.path)."""

from __future__ import annotations

import asyncio
from typing import Any


async def _first_event(trigger: Any, timeout: float) -> Any:
    async def first() -> Any:
        async for event in trigger.run():
            return event
        return None

    return await asyncio.wait_for(first(), timeout)


def run_trigger(trigger: Any, timeout: float = 30.0) -> Any:
    """Run a trigger in a fresh event loop until its first event; return the event's payload."""
    event = asyncio.run(_first_event(trigger, timeout))
    assert event is not None, "trigger ended without an event"
    return event.payload


def _deferral_exceptions() -> tuple[type[BaseException], type[BaseException]]:
    try:
        from airflow.sdk.exceptions import AirflowRescheduleException, TaskDeferred
    except ImportError:  # Airflow 2.11
        from airflow.exceptions import AirflowRescheduleException, TaskDeferred
    return TaskDeferred, AirflowRescheduleException


def run_to_end(task: Any, context: Any, *, on_defer: Any = None, timeout: float = 60.0) -> Any:
    """Execute ``task`` as Airflow would: if it defers, call ``on_defer(deferred)``, run the trigger to
    its first event and resume the task with it. Returns the task's result (or raises)."""
    task_deferred, _ = _deferral_exceptions()
    try:
        return task.execute(context)
    except task_deferred as deferred:
        if on_defer is not None:
            on_defer(deferred)
        event = run_trigger(deferred.trigger, timeout=timeout)  # type: ignore[attr-defined]
        resume = getattr(task, deferred.method_name)  # type: ignore[attr-defined]
        return resume(context, event, **(deferred.kwargs or {}))  # type: ignore[attr-defined]


def drive_sensor(sensor: Any, context: Any, mode: str, *, on_defer: Any = None, tries: int = 60) -> Any:
    """Run a sensor in ``mode`` (poke, reschedule or deferrable) to its end; return its XCom value."""
    if mode == "deferrable":
        sensor.deferrable = True
        return run_to_end(sensor, context, on_defer=on_defer)
    if mode == "reschedule":
        _, reschedule = _deferral_exceptions()
        sensor.mode = "reschedule"
        for _ in range(tries):
            try:
                return sensor.execute(context)
            except reschedule:
                continue
        raise AssertionError(f"the sensor did not finish in {tries} reschedules")
    return sensor.execute(context)

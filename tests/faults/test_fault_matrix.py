"""The fault matrix: every sensor mode, every operator and every hook method against every kind of fault.

Each row of ``FAULTS`` says what a fault is and what must come of it: ``SURVIVE`` (retried within the
budget, and the final result is the correct one) or the error it must end in, fast, with the
service's own code. No cell may ever end in success when the fault was permanent.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from _helpers import drive_sensor, run_to_end

from airflow_provider_tasks.exceptions import (
    RemoteApiError,
    RemoteAuthError,
    RemoteError,
    RemoteTaskNotFound,
)
from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.operators.openreplay import (
    OpenReplayCancelJobOperator,
    OpenReplayDeleteUserDataOperator,
    OpenReplayListJobsOperator,
)
from airflow_provider_tasks.operators.posteketab import PostEKetabListTasksOperator, PostEKetabTaskResultOperator
from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor
from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor
from airflow_provider_tasks.simulator import Step

SURVIVE = "survive"


def _http_date(seconds: float) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


@dataclass(frozen=True)
class FaultCase:
    name: str
    services: tuple[str, ...]
    kind: str
    expect: Any  # SURVIVE or an exception class
    code: Any = None  # the code the error must carry
    kwargs: dict[str, Any] = field(default_factory=dict)
    times: int = 3


ALL = ("posteketab", "openreplay", "mobizon")
FAULTS = [
    *(FaultCase(f"http-{status}", ALL, "http", SURVIVE, kwargs={"status": status}) for status in (500, 502, 503, 504)),
    FaultCase("429-no-retry-after", ALL, "rate_limit", SURVIVE),
    FaultCase("429-retry-after-seconds", ALL, "rate_limit", SURVIVE, kwargs={"retry_after": "1"}, times=1),
    FaultCase("429-retry-after-date", ALL, "rate_limit", SURVIVE, times=1, kwargs={"retry_after": "DATE"}),
    FaultCase("read-timeout", ALL, "slow", SURVIVE, kwargs={"delay": 2.0}, times=1),
    FaultCase("dropped-mid-response", ALL, "drop", SURVIVE),
    FaultCase("connection-reset", ALL, "reset", SURVIVE),
    FaultCase("html-body", ALL, "html", SURVIVE),
    FaultCase("truncated-json", ALL, "truncated_json", SURVIVE),
    *(FaultCase(f"mobizon-{code}", ("mobizon",), "code", SURVIVE, kwargs={"code": code}) for code in (10, 30, 999)),
    FaultCase("mobizon-13", ("mobizon",), "code", SURVIVE, kwargs={"code": 13}, times=1),
    FaultCase("mobizon-8", ("mobizon",), "code", RemoteAuthError, 8, {"code": 8}),
    FaultCase("mobizon-14", ("mobizon",), "code", RemoteAuthError, 14, {"code": 14}),
    *(
        FaultCase(f"posteketab-{code}", ("posteketab",), "code", SURVIVE, kwargs={"code": code})
        for code in (301, 350, 364)
    ),
    *(
        FaultCase(f"posteketab-{code}", ("posteketab",), "code", RemoteAuthError, code, {"code": code})
        for code in (332, 336, 337)
    ),
    FaultCase("openreplay-empty-401", ("openreplay",), "empty_401", RemoteAuthError, 401),
    FaultCase("http-401", ALL, "http", RemoteAuthError, 401, {"status": 401}),
    FaultCase("http-403", ALL, "http", RemoteAuthError, 403, {"status": 403}),
    # OpenReplay's 404 carries its {"error": ...} answer: the job is unknown. A 404 in another shape is
    # not the service speaking (a wrong base URL): an API error naming the URL, never "not found" (issue 10).
    FaultCase("http-404", ("openreplay",), "http", RemoteTaskNotFound, 404, {"status": 404}),
    FaultCase("http-404-no-envelope", ("posteketab", "mobizon"), "http", RemoteApiError, 404, {"status": 404}),
]


# ---------------------------------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """Something to run under a fault: seeds its items, then runs; returns what must be checked."""

    name: str
    service: str
    run: Callable[[Any, dict[str, Any], Callable[[], None]], Any]  # (sim, context, inject) -> result
    check: Callable[[Any, Any], None]  # (sim, result)


def sensor_target(service: str, mode: str) -> Target:
    def run(sim: Any, context: dict[str, Any], inject: Callable[[], None]) -> Any:
        if service == "posteketab":
            item = sim.posteketab.add_task(steps=[Step(2, polls=1), Step(3)])
            sensor = PostEKetabTaskSensor(task_id="s", posteketab_task_id=item, poke_interval=0.05)
        elif service == "openreplay":
            item = sim.openreplay.add_job(steps=[Step("running", polls=1), Step("completed")])
            sensor = OpenReplayJobSensor(task_id="s", job_id=item, poke_interval=0.05)
        else:
            item = sim.mobizon.add_task(steps=[Step(1, polls=1, progress=50), Step(2, progress=100)])
            sensor = MobizonTaskSensor(task_id="s", mobizon_task_id=item, poke_interval=1)
        if mode == "deferrable":  # the fault hits the trigger, not the check before deferring
            return drive_sensor(sensor, context, mode, on_defer=lambda deferred: inject())
        inject()
        return drive_sensor(sensor, context, mode)

    def check(sim: Any, result: Any) -> None:
        assert result[{"posteketab": "task_status", "openreplay": "status", "mobizon": "status"}[service]] in (
            3,
            "completed",
            2,
        )

    return Target(f"{service}-sensor-{mode}", service, run, check)


def _posteketab_result(deferrable: bool) -> Target:
    rows = [{"local_id": 1, "full_name": "A", "province": 1, "city": 2, "message": "ok", "is_success": True}]

    def run(sim: Any, context: dict[str, Any], inject: Callable[[], None]) -> Any:
        item = sim.posteketab.add_task(steps=[Step(2, polls=1), Step(3)], task_result=rows)
        operator = PostEKetabTaskResultOperator(
            task_id="r", posteketab_task_id=item, poll_interval=0.05, deferrable=deferrable
        )
        if not deferrable:
            inject()
            return operator.execute(context)
        return run_to_end(operator, context, on_defer=lambda deferred: inject())

    return Target(
        f"posteketab-result-{'deferrable' if deferrable else 'blocking'}",
        "posteketab",
        run,
        lambda sim, result: _equal(result, rows),
    )


def _equal(result: Any, expected: Any) -> None:
    assert result == expected


def _simple(
    name: str,
    service: str,
    seed: Callable[[Any], Any],
    call: Callable[[Any, Any], Any],
    check: Callable[[Any, Any], None],
) -> Target:
    def run(sim: Any, context: dict[str, Any], inject: Callable[[], None]) -> Any:
        seeded = seed(sim)
        inject()
        return call(seeded, context)

    return Target(name, service, run, check)


def _arun(factory: Callable[[], Any], method: str, *args: Any) -> Any:
    async def main() -> Any:
        hook = factory()
        try:
            return await getattr(hook, method)(*args)
        finally:
            await hook.aclose()

    return asyncio.run(main())


def _pk_task(sim: Any) -> str:
    return str(sim.posteketab.add_task(steps=[Step(3)]))


def _or_job(sim: Any, status: str = "completed") -> int:
    return int(sim.openreplay.add_job(steps=[Step(status)]))


def _mz_task(sim: Any) -> int:
    return int(sim.mobizon.add_task(steps=[Step(2, progress=100)]))


TARGETS = [
    *(sensor_target(service, mode) for service in ALL for mode in ("poke", "reschedule", "deferrable")),
    _posteketab_result(False),
    _posteketab_result(True),
    _simple(
        "posteketab-list-operator",
        "posteketab",
        _pk_task,
        lambda item, ctx: PostEKetabListTasksOperator(task_id="l").execute(ctx),
        lambda sim, result: _equal(len(result), 1),
    ),
    _simple(
        "posteketab-get_task",
        "posteketab",
        _pk_task,
        lambda item, ctx: PostEKetabHook().get_task(item),
        lambda sim, result: _equal(result["task_status"], 3),
    ),
    _simple(
        "posteketab-aget_task",
        "posteketab",
        _pk_task,
        lambda item, ctx: _arun(PostEKetabHook, "aget_task", item),
        lambda sim, result: _equal(result["task_status"], 3),
    ),
    _simple(
        "posteketab-list_tasks",
        "posteketab",
        _pk_task,
        lambda item, ctx: PostEKetabHook().list_tasks(),
        lambda sim, result: _equal(result["total_count"], 1),
    ),
    _simple(
        "posteketab-alist_tasks",
        "posteketab",
        _pk_task,
        lambda item, ctx: _arun(PostEKetabHook, "alist_tasks"),
        lambda sim, result: _equal(result["total_count"], 1),
    ),
    _simple(
        "posteketab-iter_tasks",
        "posteketab",
        _pk_task,
        lambda item, ctx: list(PostEKetabHook().iter_tasks()),
        lambda sim, result: _equal(len(result), 1),
    ),
    _simple(
        "openreplay-cancel-operator",
        "openreplay",
        lambda sim: _or_job(sim, "scheduled"),
        lambda item, ctx: OpenReplayCancelJobOperator(task_id="c", job_id=item).execute(ctx),
        lambda sim, result: _equal(result["status"], "cancelled"),
    ),
    _simple(
        "openreplay-delete-operator-wait",
        "openreplay",
        lambda sim: None,
        lambda item, ctx: OpenReplayDeleteUserDataOperator(
            task_id="d", user_id="f@example.com", wait_for_completion=True, poll_interval=0.05
        ).execute(ctx),
        lambda sim, result: _equal(result["status"], "completed"),
    ),
    _simple(
        "openreplay-list-operator",
        "openreplay",
        _or_job,
        lambda item, ctx: OpenReplayListJobsOperator(task_id="l", status="completed").execute(ctx),
        lambda sim, result: _equal(len(result), 1),
    ),
    _simple(
        "openreplay-get_job",
        "openreplay",
        _or_job,
        lambda item, ctx: OpenReplayHook().get_job(item),
        lambda sim, result: _equal(result["status"], "completed"),
    ),
    _simple(
        "openreplay-aget_job",
        "openreplay",
        _or_job,
        lambda item, ctx: _arun(OpenReplayHook, "aget_job", item),
        lambda sim, result: _equal(result["status"], "completed"),
    ),
    _simple(
        "openreplay-list_jobs",
        "openreplay",
        _or_job,
        lambda item, ctx: OpenReplayHook().list_jobs(),
        lambda sim, result: _equal(len(result), 1),
    ),
    _simple(
        "openreplay-alist_jobs",
        "openreplay",
        _or_job,
        lambda item, ctx: _arun(OpenReplayHook, "alist_jobs"),
        lambda sim, result: _equal(len(result), 1),
    ),
    _simple(
        "openreplay-iter_jobs",
        "openreplay",
        _or_job,
        lambda item, ctx: list(OpenReplayHook().iter_jobs()),
        lambda sim, result: _equal(len(result), 1),
    ),
    _simple(
        "openreplay-cancel_job",
        "openreplay",
        lambda sim: _or_job(sim, "running"),
        lambda item, ctx: OpenReplayHook().cancel_job(item),
        lambda sim, result: _equal(result["status"], "cancelled"),
    ),
    _simple(
        "openreplay-acancel_job",
        "openreplay",
        lambda sim: _or_job(sim, "running"),
        lambda item, ctx: _arun(OpenReplayHook, "acancel_job", item),
        lambda sim, result: _equal(result["status"], "cancelled"),
    ),
    _simple(
        "openreplay-delete_user_data",
        "openreplay",
        lambda sim: None,
        lambda item, ctx: OpenReplayHook().delete_user_data("g@example.com"),
        lambda sim, result: _equal(result["status"], "scheduled"),
    ),
    _simple(
        "mobizon-get_task_status",
        "mobizon",
        _mz_task,
        lambda item, ctx: MobizonHook().get_task_status(item),
        lambda sim, result: _equal(result, {"progress": 100, "status": 2}),
    ),
    _simple(
        "mobizon-aget_task_status",
        "mobizon",
        _mz_task,
        lambda item, ctx: _arun(MobizonHook, "aget_task_status", item),
        lambda sim, result: _equal(result, {"progress": 100, "status": 2}),
    ),
]

CELLS = [
    pytest.param(fault, target, id=f"{fault.name}--{target.name}")
    for fault in FAULTS
    for target in TARGETS
    if target.service in fault.services
]


@pytest.mark.parametrize(("fault", "target"), CELLS)
def test_fault_cell(sim: Any, context: dict[str, Any], fault: FaultCase, target: Target) -> None:
    def inject() -> None:
        kwargs = dict(fault.kwargs)
        if kwargs.get("retry_after") == "DATE":
            kwargs["retry_after"] = _http_date(1)
        # Mobizon 13 hands off to the alternate server; faulting only the primary lets the hand-off work.
        path = "/mobizon/" if fault.name == "mobizon-13" else None
        sim.add_fault(target.service, fault.kind, times=fault.times, path=path, **kwargs)

    if fault.expect == SURVIVE:
        result = target.run(sim, context, inject)
        target.check(sim, result)
        assert not sim.faults, "the fault was never met: the cell proves nothing"
        return
    started = time.monotonic()
    with pytest.raises(RemoteError) as info:
        target.run(sim, context, inject)
    error = info.value
    assert isinstance(error, fault.expect), f"{type(error).__name__}: {error}"
    assert error.code == fault.code, error
    assert target.service != "mobizon" or sim.mobizon_api_key not in str(error)
    assert time.monotonic() - started < 15, "a permanent fault must fail fast"


UNKNOWN_STATUS = [
    (
        "posteketab",
        lambda sim: sim.posteketab.add_task(steps=[Step(9)]),
        lambda item: PostEKetabTaskSensor(task_id="u", posteketab_task_id=item, poke_interval=0.05),
    ),
    (
        "openreplay",
        lambda sim: sim.openreplay.add_job(steps=[Step("paused")]),
        lambda item: OpenReplayJobSensor(task_id="u", job_id=item, poke_interval=0.05),
    ),
    (
        "mobizon",
        lambda sim: sim.mobizon.add_task(steps=[Step(7, progress=100)]),
        lambda item: MobizonTaskSensor(task_id="u", mobizon_task_id=item, poke_interval=1),
    ),
]


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
@pytest.mark.parametrize(("service", "seed", "make"), UNKNOWN_STATUS, ids=[row[0] for row in UNKNOWN_STATUS])
def test_unknown_status_values_are_errors_never_success(sim, context, service, seed, make, mode):
    sensor = make(seed(sim))
    sensor.deferrable = mode == "deferrable"
    with pytest.raises(RemoteApiError, match="unknown status value"):
        sensor.execute(context)

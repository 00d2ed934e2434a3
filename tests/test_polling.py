"""Coalesced polling inside one event loop: shared HTTP session, shared pollers, Mobizon's limiter."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_tasks.exceptions import RemoteTaskFailed
from airflow_provider_tasks.hooks import sessions as http_client
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.triggers.mobizon import MobizonTaskTrigger
from airflow_provider_tasks.triggers.openreplay import OpenReplayJobTrigger
from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskTrigger
from airflow_provider_tasks.waits import poller as polling


async def first_events(triggers: list[Any], timeout: float = 60) -> list[dict[str, Any]]:
    async def first(trigger: Any) -> dict[str, Any]:
        agen = trigger.run()
        try:
            event = await agen.__anext__()
            return dict(event.payload)
        finally:
            await agen.aclose()

    return await asyncio.wait_for(asyncio.gather(*(first(t) for t in triggers)), timeout)


def test_openreplay_waits_of_one_project_share_the_jobs_list(sim):
    ids = [sim.openreplay.add_job(user_id=f"u{i}", steps=[Step("scheduled", polls=1000)]) for i in range(40)]
    failed = sim.openreplay.add_job(user_id="bad", steps=[Step("failed")], errors="boom")
    triggers = [OpenReplayJobTrigger(job_id=job_id, poll_interval=0.3) for job_id in [*ids, failed]]

    async def main() -> list[dict[str, Any]]:
        async def finish_later() -> None:
            await asyncio.sleep(1.0)
            for job_id in ids:
                sim.set_status("openreplay", job_id, "completed")

        events, _ = await asyncio.gather(first_events(triggers), finish_later())
        assert polling.active_pollers() == {} and http_client.users() == 0
        return events

    events = asyncio.run(main())
    assert [event["status"] for event in events] == ["success"] * 40 + ["failed"]
    assert events[-1]["message"] == "boom"
    lists = sim.count("openreplay", path="/jobs", method="GET") - sum(
        sim.count("openreplay", path=f"/jobs/{job_id}") for job_id in [*ids, failed]
    )
    single = sum(sim.count("openreplay", path=f"/jobs/{job_id}") for job_id in [*ids, failed])
    assert single == 0, "41 waits fit in one list page: no per-job request"
    assert 2 <= lists <= 8  # one list request per round, a few rounds


def test_posteketab_waits_read_the_list_and_the_resumed_task_reads_the_detail_once(sim):
    rows = [{"local_id": 1, "full_name": "A", "province": 1, "city": 2, "message": "ok", "is_success": True}]
    bad = [{"local_id": 2, "full_name": "B", "province": 1, "city": 2, "message": "bad city", "is_success": False}]
    ids = [sim.posteketab.add_task(steps=[Step(2, seconds=0.8), Step(3)], task_result=rows) for _ in range(30)]
    failed = sim.posteketab.add_task(steps=[Step(2, seconds=0.8), Step(4)], task_result=bad)
    triggers = [PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.3) for task_id in [*ids, failed]]
    events = asyncio.run(first_events(triggers))
    assert [event["status"] for event in events] == ["success"] * 30 + ["failed"]
    # The list tells the triggers a task ended; its rows stay out of the event (and the metadata DB).
    assert all(event["partial"] is True and "task_result" not in event["remote"] for event in events)
    assert sim.count("posteketab", path="task/detail") == 0
    assert sim.count("posteketab", path="task/list") <= 8

    sensors = [PostEKetabTaskSensor(task_id=f"s{n}", posteketab_task_id=task_id) for n, task_id in enumerate(ids)]
    assert all(
        sensor.execute_complete({}, event)["task_result"] == rows
        for sensor, event in zip(sensors, events, strict=False)
    )
    with pytest.raises(RemoteTaskFailed, match="bad city"):
        PostEKetabTaskSensor(task_id="f", posteketab_task_id=failed).execute_complete({}, events[-1])
    assert sim.count("posteketab", path="task/detail") == 31  # once per finished task


def test_posteketab_list_pages_are_read_only_while_cheaper_than_details(sim):
    old = [sim.posteketab.add_task(steps=[Step(2, seconds=1.0), Step(3)]) for _ in range(3)]
    for _ in range(450):  # newer tasks push the three beyond the pages worth reading for three waits
        sim.posteketab.add_task(steps=[Step(3)])
    triggers = [PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.2) for task_id in old]
    events = asyncio.run(first_events(triggers))
    assert all(event["status"] == "success" for event in events)
    # Round 1: pages 1-3 (no more than the three detail reads they could save), then the details;
    # later rounds read the three details directly: the tasks cannot move back up the list.
    assert sim.count("posteketab", path="task/list") == 3
    assert sim.count("posteketab", path="task/detail") >= 3 * 2


def test_posteketab_many_waits_read_every_page_each_round(sim):
    ids = [sim.posteketab.add_task(steps=[Step(2, seconds=1.0), Step(3)]) for _ in range(350)]
    triggers = [PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.3) for task_id in ids]
    events = asyncio.run(first_events(triggers))
    assert all(event["status"] == "success" and event["partial"] for event in events)
    lists = sim.count("posteketab", path="task/list")
    # ceil(350/100) pages per round (a round may need fewer when the waits it answers fit on fewer).
    assert 4 <= lists <= 4 * 8
    assert sim.count("posteketab", path="task/detail") == 0


def test_posteketab_token_refused_the_list_falls_back_to_details(sim):
    ids = [sim.posteketab.add_task(steps=[Step(2, polls=2), Step(3)]) for _ in range(3)]
    sim.add_fault("posteketab", "code", code=337, path="task/list", times=10**6)  # "no permission"
    triggers = [PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.1) for task_id in ids]
    events = asyncio.run(first_events(triggers))
    assert all(event["status"] == "success" for event in events)
    assert sim.count("posteketab", path="task/list") == 1  # asked once, then never again


def test_posteketab_single_wait_reads_the_detail(sim):
    task_id = sim.posteketab.add_task(steps=[Step(2, polls=2), Step(3)])
    events = asyncio.run(first_events([PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.05)]))
    assert events[0]["status"] == "success" and events[0]["remote"]["task_status"] == 3
    assert events[0]["partial"] is True and "task_result" not in events[0]["remote"]  # rows stay out of events
    assert sim.count("posteketab", path="task/list") == 0


def test_single_wait_reads_its_own_status(sim):
    job_id = sim.openreplay.add_job(steps=[Step("running", polls=1), Step("completed")])
    events = asyncio.run(first_events([OpenReplayJobTrigger(job_id=job_id, poll_interval=0.05)]))
    assert events[0]["status"] == "success"
    assert sim.count("openreplay", path=f"/jobs/{job_id}") == 2


def test_mobizon_identical_waits_are_deduplicated_and_the_key_is_never_over_its_limit(sim):
    shared = sim.mobizon.add_task(steps=[Step(1, seconds=2.5, progress=50), Step(2, progress=100)])
    others = [sim.mobizon.add_task(steps=[Step(1, seconds=2.5, progress=10), Step(2, progress=100)]) for _ in range(2)]
    triggers = [MobizonTaskTrigger(mobizon_task_id=shared, poll_interval=1) for _ in range(6)]
    triggers += [MobizonTaskTrigger(mobizon_task_id=task_id, poll_interval=1) for task_id in others]
    started = time.monotonic()
    events = asyncio.run(first_events(triggers))
    assert all(event["status"] == "success" for event in events)
    assert sim.mobizon.rate_limited == 0, "the limiter kept every GetStatus at least 1 s apart"
    elapsed = time.monotonic() - started
    calls = sim.count("mobizon", path="getstatus")
    assert calls <= elapsed + 1  # never more than one a second
    # 8 waits on 3 tasks: read 3 per round. Without deduplication a round would be 8 s long.
    assert calls <= 3 * 4 and elapsed < 12


def test_cancelled_waits_leave_and_the_last_one_stops_the_poller(sim):
    job_ids = [sim.openreplay.add_job(steps=[Step("scheduled")]) for _ in range(3)]

    async def main() -> None:
        tasks = [
            asyncio.create_task(first_events([OpenReplayJobTrigger(job_id=j, poll_interval=0.1)])) for j in job_ids
        ]
        await asyncio.sleep(0.5)
        assert len(polling.active_pollers()) == 1 and http_client.users() == 1
        poller = next(iter(polling.active_pollers().values()))
        assert len(poller.waiters) == 3 and poller.rounds >= 2
        tasks[0].cancel()
        await asyncio.sleep(0.2)
        assert len(poller.waiters) == 2
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert polling.active_pollers() == {} and http_client.users() == 0

    asyncio.run(main())


def test_each_wait_keeps_its_own_interval_and_deadline(sim):
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    fast = OpenReplayJobTrigger(job_id=job_id, poll_interval=0.1, end_time=time.time() + 0.5)
    slow = OpenReplayJobTrigger(job_id=job_id, poll_interval=0.1, end_time=time.time() + 1.5)
    started = time.monotonic()
    events = asyncio.run(first_events([fast, slow]))
    assert [event["status"] for event in events] == ["timeout", "timeout"]
    assert 1.3 < time.monotonic() - started < 3


def _reads_of(sim: Any, service: str, path: str, ids: list[Any]) -> int:
    return sum(sim.count(service, path=f"{path}{item}") for item in ids)


def test_openreplay_jobs_read_one_by_one_are_listed_again_once_the_waits_double(sim):
    """Waits arrive over time: pages not worth reading for the first two waits are for eight, and the
    first two must then be answered by the list too, or they keep per-job reads (and rounds) forever."""
    old = [sim.openreplay.add_job(user_id=f"old{i}", steps=[Step("scheduled")]) for i in range(8)]
    for i in range(450):  # newer jobs push the eight onto page 3
        sim.openreplay.add_job(user_id=f"new{i}", steps=[Step("completed")])
    from airflow_provider_tasks.hooks.openreplay import OpenReplayHook

    async def main() -> tuple[int, int]:
        hook = OpenReplayHook()
        try:
            await hook.apoll_many(old[:2])  # two pages cost as much as two reads: read one by one
            first = _reads_of(sim, "openreplay", "/jobs/", old[:2])
            results = await hook.apoll_many(old)  # eight waits: the three pages pay
            assert len(results) == 8
            return first, _reads_of(sim, "openreplay", "/jobs/", old) - first
        finally:
            await hook.aclose()

    first, later = asyncio.run(main())
    assert first == 2
    assert later == 0, "the eight jobs are on page 3: no per-job read once eight waits listen"


def test_posteketab_tasks_read_one_by_one_are_listed_again_once_the_waits_double(sim):
    old = [sim.posteketab.add_task(steps=[Step(2)]) for _ in range(8)]
    for _ in range(250):  # newer tasks push the eight onto page 3
        sim.posteketab.add_task(steps=[Step(3)])
    from airflow_provider_tasks.hooks.posteketab import PostEKetabHook

    async def main() -> int:
        hook = PostEKetabHook()
        try:
            await hook.apoll_many(old[:2])
            before = sim.count("posteketab", path="task/detail")
            results = await hook.apoll_many(old)
            assert len(results) == 8
            return sim.count("posteketab", path="task/detail") - before
        finally:
            await hook.aclose()

    assert asyncio.run(main()) == 0, "eight waits: the pages answer all eight, the first two included"

"""The triggerer's shared poller under the arrivals of a real triggerer: waits that arrive over time,
waits that join as the last one leaves, a poller loop that dies, thousands of joins and leaves."""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import Any

import pytest

from airflow_provider_tasks.hooks import sessions
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.triggers.openreplay import OpenReplayJobTrigger
from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskTrigger
from airflow_provider_tasks.waits import poller


async def first_event(trigger: Any) -> dict[str, Any]:
    agen = trigger.run()
    try:
        return dict((await agen.__anext__()).payload)
    finally:
        await agen.aclose()


def _requests_per_interval(records: list[Any], start: float, end: float, interval: float) -> list[int]:
    counts = [0] * max(1, int((end - start) // interval))
    for record in records:
        slot = int((record.timestamp - start) // interval)
        if 0 <= slot < len(counts):
            counts[slot] += 1
    return counts


@pytest.mark.parametrize(
    ("service", "waits", "page_size"),
    [("openreplay", 300, 200), ("posteketab", 300, 100)],
)
def test_waits_arriving_over_three_intervals_share_the_rounds(sim, service, waits, page_size):
    """Issue 9.1: waits start uniformly over three intervals, as mapped tasks defer one after another.
    Once all are in, each interval costs at most ceil(listed / page size) + 1 requests."""
    interval = 0.6
    if service == "openreplay":
        ids = [sim.openreplay.add_job(user_id=f"u{n}", steps=[Step("scheduled")]) for n in range(waits)]

        def trigger(item: Any) -> Any:
            return OpenReplayJobTrigger(job_id=item, poll_interval=interval, delay_first_poll=True)

        terminal = "completed"
    else:
        ids = [sim.posteketab.add_task(steps=[Step(2)]) for _ in range(waits)]

        def trigger(item: Any) -> Any:
            return PostEKetabTaskTrigger(posteketab_task_id=item, poll_interval=interval, delay_first_poll=True)

        terminal = 3
    rng = random.Random(9)
    offsets = sorted(rng.uniform(0, 3 * interval) for _ in ids)
    finished: dict[Any, float] = {}

    async def one(item: Any, offset: float) -> dict[str, Any]:
        await asyncio.sleep(offset)
        return await first_event(trigger(item))

    async def main() -> list[dict[str, Any]]:
        tasks = [asyncio.create_task(one(item, offset)) for item, offset in zip(ids, offsets, strict=True)]
        await asyncio.sleep(3 * interval + interval)  # everyone in, and one interval to settle
        sim.reset_counters()
        measured_from = time.monotonic()
        await asyncio.sleep(4 * interval)
        measured_to = time.monotonic()
        records = list(sim.requests)
        for item in ids:
            sim.set_status(service, item, terminal)
            finished[item] = time.monotonic()
        events = await asyncio.wait_for(asyncio.gather(*tasks), 30)
        ended = time.monotonic()
        assert poller.active_pollers() == {} and sessions.users() == 0
        per_interval = _requests_per_interval(records, measured_from, measured_to, interval)
        floor = math.ceil(waits / page_size)
        assert max(per_interval) <= floor + 1, per_interval
        assert all(record.method in ("GET", "POST") and "/jobs/" not in record.path for record in records)
        # Detection within one interval plus one second of the change, for every wait.
        assert ended - max(finished.values()) <= interval + 1.0
        return events

    events = asyncio.run(main())
    assert all(event["status"] == "success" for event in events)


def test_a_wait_that_joins_as_the_last_one_leaves_gets_a_live_poller(sim, monkeypatch):
    """Issue 9.2: the last wait's leave() used to await the cancelled poll task while the dying poller
    was still registered; a wait subscribing in that window joined it and never got a result."""
    first = sim.openreplay.add_job(steps=[Step("completed")])
    second = sim.openreplay.add_job(steps=[Step("scheduled", polls=1), Step("completed")])
    original = poller.Poller.leave
    later: list[asyncio.Future[dict[str, Any]]] = []

    async def racing_leave(self: poller.Poller, waiter: poller.Waiter) -> None:
        if later:  # only the first leave races
            return await original(self, waiter)
        leaving = asyncio.ensure_future(original(self, waiter))
        await asyncio.sleep(0)  # leave() dropped the last waiter and is stopping the poll task...
        later.append(asyncio.ensure_future(first_event(OpenReplayJobTrigger(job_id=second, poll_interval=0.05))))
        await asyncio.sleep(0)  # ...when the next wait subscribes
        await leaving

    monkeypatch.setattr(poller.Poller, "leave", racing_leave)

    async def main() -> None:
        assert (await first_event(OpenReplayJobTrigger(job_id=first, poll_interval=0.05)))["status"] == "success"
        assert (await asyncio.wait_for(later[0], 10))["status"] == "success"
        assert poller.active_pollers() == {}

    asyncio.run(main())


def test_a_poller_whose_loop_dies_ends_its_waits_and_is_replaced(sim, monkeypatch):
    job_ids = [sim.openreplay.add_job(steps=[Step("scheduled")]) for _ in range(3)]
    done = sim.openreplay.add_job(steps=[Step("completed")])

    async def broken(self: poller.Poller) -> None:
        raise RuntimeError("a bug in the round")

    async def main() -> None:
        with monkeypatch.context() as patch:
            patch.setattr(poller.Poller, "_rounds", broken)
            events = await asyncio.wait_for(
                asyncio.gather(*(first_event(OpenReplayJobTrigger(job_id=j, poll_interval=0.05)) for j in job_ids)), 10
            )
        assert [event["status"] for event in events] == ["error"] * 3
        assert all("shared poller stopped" in event["message"] for event in events)
        assert poller.active_pollers() == {}
        fresh = await asyncio.wait_for(first_event(OpenReplayJobTrigger(job_id=done, poll_interval=0.05)), 10)
        assert fresh["status"] == "success"

    asyncio.run(main())


def test_thousands_of_joins_and_leaves_on_one_loop_never_strand_a_wait(sim):
    """Issue 9.2 stress: 2,000 waits join at random times, a third are cancelled at random, the rest
    end when their job does; every wait that was not cancelled gets its result."""
    rng = random.Random(92)
    jobs = [sim.openreplay.add_job(user_id=f"s{n}", steps=[Step("scheduled")]) for n in range(400)]
    plan = [(rng.choice(jobs), rng.uniform(0, 2.0), rng.random() < 1 / 3, rng.uniform(0, 1.5)) for _ in range(2000)]

    async def one(job_id: int, start: float, cancel: bool, cancel_after: float) -> Any:
        await asyncio.sleep(start)
        task = asyncio.ensure_future(first_event(OpenReplayJobTrigger(job_id=job_id, poll_interval=0.1)))
        if cancel:
            await asyncio.sleep(cancel_after)
            task.cancel()
        try:
            return await task
        except asyncio.CancelledError:
            return "cancelled"

    async def finish_jobs() -> None:
        for job_id in rng.sample(jobs, len(jobs)):
            await asyncio.sleep(0.006)
            sim.set_status("openreplay", job_id, "completed")

    async def main() -> list[Any]:
        results = asyncio.gather(*(one(*args) for args in plan))
        await asyncio.sleep(1.0)
        await finish_jobs()
        outcome = await asyncio.wait_for(results, 60)
        assert poller.active_pollers() == {} and sessions.users() == 0
        return list(outcome)

    results = asyncio.run(main())
    expected = [not cancel for _, _, cancel, _ in plan]
    got = [isinstance(result, dict) and result["status"] == "success" for result in results]
    # A wait whose cancellation came after its event is a success too; none may be missing.
    assert all(got[n] or not expected[n] for n in range(len(plan)))
    assert sum(got) >= sum(expected)


class _TurnCountingLoop(asyncio.SelectorEventLoop):
    """Counts the turns of the loop (``_run_once``: one pass over the callbacks ready at its start)."""

    turns = 0

    def _run_once(self) -> None:
        self.turns += 1
        super()._run_once()  # type: ignore[misc]


def test_a_round_that_ends_many_waits_answers_them_over_several_turns_of_the_loop(sim):
    """Issue 9.7: 300 jobs finishing in one list read must not make 300 triggers resume, fire and be
    cleaned up in a single turn of the triggerer's loop (0.25 s in a real triggerer, over Airflow's
    "async thread was blocked" threshold). Each wait notes the turn of the loop it fired in."""
    waits = 300
    steps = [Step("scheduled", seconds=1.0), Step("completed")]
    ids = [sim.openreplay.add_job(user_id=f"u{n}", steps=steps) for n in range(waits)]
    fired_at: list[int] = []

    async def one(item: Any) -> None:
        event = await first_event(OpenReplayJobTrigger(job_id=item, poll_interval=0.3))
        assert event["status"] == "success"
        fired_at.append(asyncio.get_running_loop().turns)  # type: ignore[attr-defined]

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(one(item) for item in ids)), 30)

    with asyncio.Runner(loop_factory=_TurnCountingLoop) as runner:
        runner.run(main())
    assert len(fired_at) == waits
    assert len(set(fired_at)) >= waits // poller.DELIVERY_BATCH, sorted(set(fired_at))


def test_a_round_longer_than_the_interval_is_followed_by_one_round_for_every_wait(sim, monkeypatch):
    """When the service is slower than the interval, the next round is due as soon as one ends. The
    waits it just answered must be listening again before the poller picks that round's waits, or the
    last ones answered fall onto a round of their own (the matrix under load in CI: a Post-e-Ketab
    straggler read alone by its detail). Every round after the first must carry all 350 waits."""
    waits, interval = 350, 0.3
    ids = [sim.posteketab.add_task(steps=[Step(2)]) for _ in range(waits)]
    sizes: list[int] = []
    before_the_end: list[int] = []
    poll_many = PostEKetabTaskTrigger.hook_class.apoll_many

    async def counted(self: Any, item_ids: Any, **kwargs: Any) -> Any:
        sizes.append(len(item_ids))
        return await poll_many(self, item_ids, **kwargs)

    monkeypatch.setattr(PostEKetabTaskTrigger.hook_class, "apoll_many", counted)

    async def main() -> list[dict[str, Any]]:
        tasks = [
            asyncio.create_task(first_event(PostEKetabTaskTrigger(posteketab_task_id=item, poll_interval=interval)))
            for item in ids
        ]
        await asyncio.sleep(2 * interval)
        # Every page of the next five rounds takes longer than the interval (counted, not timed: a
        # loaded machine runs fewer rounds in a given time).
        sim.add_fault("posteketab", "slow", delay=1.5 * interval, path="task/list", times=10_000)
        slow_from = len(sizes)
        async with asyncio.timeout(60):
            while len(sizes) < slow_from + 5:
                await asyncio.sleep(interval / 4)
        before_the_end.extend(sizes)
        sim.clear_faults()
        for item in ids:
            sim.set_status("posteketab", item, 3)
        return await asyncio.wait_for(asyncio.gather(*tasks), 30)

    events = asyncio.run(main())
    assert all(event["status"] == "success" for event in events)
    # The first round holds the waits that had arrived; the last one before the end may be in flight.
    assert len(before_the_end) >= 5 and all(size == waits for size in before_the_end[1:-1]), sizes
    assert sim.count("posteketab", path="task/detail") == 0

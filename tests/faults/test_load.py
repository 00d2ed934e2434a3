"""2,000 concurrent deferrable waits across the three services, 5% of responses faulted at random.

Every wait must end with the outcome the simulator scripted, exactly once; none may be lost; and
Mobizon's one-GetStatus-per-second rule must never be broken (the simulator counts refusals).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from airflow_provider_tasks.hooks import sessions as http_client
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.triggers.mobizon import MobizonTaskTrigger
from airflow_provider_tasks.triggers.openreplay import OpenReplayJobTrigger
from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskTrigger
from airflow_provider_tasks.waits import poller as polling

SEED = 20261124
FAULT_RATE = 0.05


async def run_all(triggers: list[Any], timeout: float) -> list[list[dict[str, Any]]]:
    """Run every trigger to its end; return every event each one yielded (exactly one is expected)."""

    async def events_of(trigger: Any) -> list[dict[str, Any]]:
        return [dict(event.payload) async for event in trigger.run()]

    return await asyncio.wait_for(asyncio.gather(*(events_of(t) for t in triggers)), timeout)


@pytest.mark.timeout(300)
def test_two_thousand_waits_with_five_percent_faults(sim: Any) -> None:
    rng = random.Random(SEED)
    expected: list[tuple[Any, str]] = []  # (trigger, expected event status)
    for _ in range(700):
        good = rng.random() > 0.2
        steps = [Step(rng.choice([0, 1, 2]), seconds=rng.uniform(1, 4)), Step(3 if good else 4)]
        task_id = sim.posteketab.add_task(steps=steps)
        expected.append(
            (PostEKetabTaskTrigger(posteketab_task_id=task_id, poll_interval=0.1), "success" if good else "failed")
        )
    for _ in range(700):
        final = rng.choice(["completed", "completed", "completed", "failed", "cancelled"])
        job_id = sim.openreplay.add_job(steps=[Step("scheduled", seconds=rng.uniform(1, 4)), Step(final)])
        expected.append(
            (OpenReplayJobTrigger(job_id=job_id, poll_interval=0.1), "success" if final == "completed" else "failed")
        )
    # Mobizon allows one call a second per key: 600 waits on 6 uploads, read once per round each.
    uploads = []
    for index in range(6):
        final = 2 if index % 3 else 3
        uploads.append(
            (
                sim.mobizon.add_task(steps=[Step(1, seconds=2, progress=50), Step(final, progress=100)]),
                "success" if final == 2 else "failed",
            )
        )
    for index in range(600):
        task_id, outcome = uploads[index % len(uploads)]
        expected.append((MobizonTaskTrigger(mobizon_task_id=task_id, poll_interval=1), outcome))
    rng.shuffle(expected)
    # The first 3 answers of each service are faulted for sure: on a busy machine coalesced polling
    # makes so few requests that the random faults alone were met only 2 or 3 times.
    sure = []
    for number, service in enumerate(("posteketab", "openreplay", "mobizon")):
        sure.append(sim.add_fault(service, "http", status=503, times=3))
        sim.add_fault(service, "http", status=503, times=10**6, probability=FAULT_RATE / 2, seed=SEED + number)
        sim.add_fault(service, "html", status=502, times=10**6, probability=FAULT_RATE / 2, seed=SEED + 10 + number)

    async def main() -> list[list[dict[str, Any]]]:
        results = await run_all([trigger for trigger, _ in expected], timeout=240)
        assert polling.active_pollers() == {} and http_client.users() == 0
        return results

    started = time.monotonic()
    results = asyncio.run(main())
    elapsed = time.monotonic() - started

    assert len(results) == 2000
    ended_twice = [events for events in results if len(events) != 1]
    assert not ended_twice, f"{len(ended_twice)} waits ended with {set(map(len, ended_twice))} events"
    wrong = [
        (trigger.serialize()[1], events[0])
        for (trigger, outcome), events in zip(expected, results, strict=True)
        if events[0]["status"] != outcome or str(events[0]["id"]) != str(trigger.item_id)
    ]
    assert not wrong, f"{len(wrong)} wrong outcomes, e.g. {wrong[:3]}"
    assert [fault.hits for fault in sure] == [3, 3, 3]
    # Coalesced polling needs only a few hundred requests for all 2,000 waits (every list page answers
    # every wait on it, hence the short intervals): the random 5% still meet some of them.
    faults = sum(fault.hits for fault in sim.faults)
    assert faults >= 3, "the run must really have met random faults"
    assert sim.mobizon.rate_limited == 0
    print(f"2000 waits in {elapsed:.1f}s, {sim.count()} requests, {faults} random faults met")

"""Subprocess entry: run N concurrent waits on one event loop and measure them.

``python -m bench.client CONFIG.json`` (written by :mod:`bench.waits`). The process:

1. starts every wait (one task per trigger, as the triggerer does) and lets it warm up;
2. measures a window of poll rounds: CPU (``time.process_time()`` of this process, which runs no
   simulator) and the window's bounds in ``time.monotonic()``, so the driver can count the requests
   the simulator received in it; emits ``measured``;
3. records the ``time.monotonic()`` at which each trigger yields its event while the driver marks
   the items terminal, then emits ``done`` with the events and the peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.memory import peak_rss_bytes
from bench.protocol import emit

__all__ = ["main"]

_SAMPLE_EVERY = 0.02  # seconds between two looks for the pollers, at start
_WARMUP_TIMEOUT = 180.0
_STAGGER_SEED = 20261202
Event = tuple[int, float, str]


def _make_triggers(config: dict[str, Any], limiter: asyncio.Semaphore, stats: Any) -> list[Any]:
    workload, impl, interval = config["workload"], config["impl"], config["poll_interval"]
    items: list[Any] = config["wait_items"]
    if impl == "per_wait":
        from bench.peers import PerWaitPollingTrigger

        return [
            PerWaitPollingTrigger(workload, item, interval, wait_index=index, limiter=limiter, stats=stats)
            for index, item in enumerate(items)
        ]
    if impl == "http_sensor":
        from bench.peers import http_sensor_trigger

        return [http_sensor_trigger(config["project_key"], int(item), interval) for item in items]
    factory = _our_trigger_factory(workload)
    return [factory(item, interval) for item in items]


def _our_trigger_factory(workload: str) -> Callable[[Any, float], Any]:
    if workload == "openreplay":
        from airflow_provider_tasks.triggers.openreplay import OpenReplayJobTrigger

        return lambda item, interval: OpenReplayJobTrigger(job_id=int(item), poll_interval=interval)
    if workload == "posteketab":
        from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskTrigger

        return lambda item, interval: PostEKetabTaskTrigger(posteketab_task_id=str(item), poll_interval=interval)
    from airflow_provider_tasks.triggers.mobizon import MobizonTaskTrigger

    return lambda item, interval: MobizonTaskTrigger(mobizon_task_id=int(item), poll_interval=interval)


def _status_of(payload: Any) -> str:
    if payload is True:  # HttpSensorTrigger's event
        return "success"
    if isinstance(payload, dict):
        return str(payload.get("status"))
    return repr(payload)


async def _first_event(index: int, trigger: Any, events: list[Event], start_after: float = 0.0) -> None:
    if start_after > 0:  # a staggered arrival: the trigger reaches the loop later
        await asyncio.sleep(start_after)
    agen = trigger.run()
    try:
        event = await agen.__anext__()
        events.append((index, time.monotonic(), _status_of(event.payload)))
    except StopAsyncIteration:
        events.append((index, time.monotonic(), "no event"))
    except Exception as error:  # a peer that crashes ends its wait without an event
        events.append((index, time.monotonic(), f"exception {type(error).__name__}: {error}"[:200]))
    finally:
        await agen.aclose()


async def _our_pollers() -> list[Any]:
    from airflow_provider_tasks.waits import poller as polling

    while not polling.active_pollers():
        await asyncio.sleep(_SAMPLE_EVERY)
    return list(polling.active_pollers().values())


class RoundWatch:
    """Wakes the measurement when one of our pollers has finished a round, without sampling: each
    poller's ``hook.apoll_many`` is wrapped (on the instance) to signal its return. That costs one
    await per round, whatever the number of waits."""

    def __init__(self, pollers: Sequence[Any]) -> None:
        self.pollers = list(pollers)
        self._changed = asyncio.Event()
        for poller in self.pollers:
            poller.hook.apoll_many = self._signalling(poller.hook.apoll_many)

    def _signalling(self, read: Callable[..., Any]) -> Callable[..., Any]:
        async def signalled(*args: Any, **kwargs: Any) -> Any:
            try:
                return await read(*args, **kwargs)
            finally:
                self._changed.set()  # the poller counts the round before this wakes anyone

        return signalled

    @property
    def rounds(self) -> int:
        return sum(poller.rounds for poller in self.pollers)

    async def until(self, target: int) -> None:
        """Return as soon as the pollers have done ``target`` rounds in all."""
        while self.rounds < target:
            self._changed.clear()
            await self._changed.wait()


def _track_deliveries(pollers: Sequence[Any]) -> dict[int, list[float]]:
    """Record when each of our waits is handed a poll result (wraps each waiter queue's put)."""
    deliveries: dict[int, list[float]] = {}
    waiters = [waiter for poller in pollers for waiter in poller.waiters]
    for number, waiter in enumerate(waiters):
        times = deliveries.setdefault(number, [])
        put = waiter.results.put_nowait

        def counted(item: Any, put: Callable[[Any], None] = put, times: list[float] = times) -> None:
            times.append(time.monotonic())
            put(item)

        waiter.results.put_nowait = counted
    return deliveries


def delivery_summary(deliveries: dict[int, list[float]], start: float, end: float, waits: int) -> dict[str, Any]:
    """Per wait: results handed over inside [start, end], and the longest stretch without one."""
    counts: list[int] = []
    longest = 0.0
    for index in range(waits):
        times = sorted(deliveries.get(index, []))
        inside = [moment for moment in times if start <= moment <= end]
        counts.append(len(inside))
        before = [moment for moment in times if moment < start]
        previous = before[-1] if before else start
        for moment in inside:
            longest = max(longest, moment - previous)
            previous = moment
        longest = max(longest, end - previous)
    return {
        "min_per_wait": min(counts) if counts else 0,
        "max_per_wait": max(counts) if counts else 0,
        "starved_waits": sum(1 for count in counts if count == 0),
        "longest_gap_s": round(longest, 3),
    }


async def _measure(config: dict[str, Any], peer_stats: Any, pollers: list[Any]) -> dict[str, Any]:
    """Warm up, then measure ``rounds`` poll rounds; ``pollers`` receives our pollers (kept for later)."""
    interval, rounds, stagger = config["poll_interval"], config["rounds"], config["stagger_s"]
    if config["impl"] == "ours":
        pollers += await _our_pollers()
        watch = RoundWatch(pollers)
        await asyncio.sleep(stagger)  # every wait has started: the steady state begins
        warmed = (watch.rounds if stagger else 0) + config["warmup_rounds"]
        await asyncio.wait_for(watch.until(warmed), _WARMUP_TIMEOUT)
        deliveries = _track_deliveries(pollers) if config["track_deliveries"] else None
        first = watch.rounds
        start, cpu_start = time.monotonic(), time.process_time()
        if stagger:  # a fixed stretch of time: rounds on several clocks would show as requests per interval
            await asyncio.sleep(rounds * interval)
        else:
            await asyncio.wait_for(watch.until(first + rounds), _WARMUP_TIMEOUT)
        end, cpu_end = time.monotonic(), time.process_time()
        measured: dict[str, Any] = {
            "rounds": watch.rounds - first,
            "rounds_total_at_end": watch.rounds,
            "pollers": len(pollers),
            "due_groups": len({round(w.next_due, 2) for poller in pollers for w in poller.waiters}),
        }
    else:
        deliveries = peer_stats.accepted if config["track_deliveries"] else None
        await asyncio.sleep(stagger + config["warmup_rounds"] * interval)
        sent, refused = peer_stats.requests, peer_stats.rate_limited
        start, cpu_start = time.monotonic(), time.process_time()
        await asyncio.sleep(rounds * interval)
        end, cpu_end = time.monotonic(), time.process_time()
        measured = {
            "rounds": None,  # the driver derives it from the requests received in the window
            "peer_requests": peer_stats.requests - sent,
            "peer_rate_limited": peer_stats.rate_limited - refused,
        }
    measured.update(window_start=start, window_end=end, cpu_s=cpu_end - cpu_start)
    if deliveries is not None:
        measured["deliveries"] = delivery_summary(deliveries, start, end, config["waits"])
    return measured


def _start_delays(count: int, stagger: float) -> list[float]:
    """When each wait starts: all at once, or uniformly (seeded) over ``stagger`` seconds."""
    rng = random.Random(_STAGGER_SEED)
    return [rng.uniform(0, stagger) if stagger else 0.0 for _ in range(count)]


async def run(config: dict[str, Any]) -> None:
    """Run and measure the waits of ``config`` (see :meth:`bench.workloads.WaitRun.client_config`)."""
    from bench.peers import PeerStats

    stats = PeerStats()
    limiter = asyncio.Semaphore(config["peer_concurrency"])
    triggers = _make_triggers(config, limiter, stats)
    events: list[Event] = []
    delays = _start_delays(len(triggers), config["stagger_s"])
    tasks = [
        asyncio.create_task(_first_event(index, trigger, events, delays[index]))
        for index, trigger in enumerate(triggers)
    ]
    pollers: list[Any] = []
    try:
        measured = await _measure(config, stats, pollers)
        emit("measured", **measured, events_before_marking=len(events))
        _, pending = await asyncio.wait(tasks, timeout=config["finish_timeout"])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    emit(
        "done",
        events=events,
        unfinished=len(pending),
        total_rounds=sum(poller.rounds for poller in pollers) if pollers else None,
        peak_rss_kb=peak_rss_bytes() // 1024,
        ru_maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        peer_requests=stats.requests,
        peer_rate_limited=stats.rate_limited,
    )


def main(argv: Sequence[str]) -> int:
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        asyncio.run(run(config))
    except Exception:
        emit("error", message=traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

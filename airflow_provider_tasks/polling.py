"""Coalesced polling: the waits of one event loop on the same service and connection share a poller.

A triggerer may hold thousands of waits. Each trigger :func:`subscribe` s to the poller of its
(hook class, connection, scope); the poller wakes when any wait is due, reads the statuses of all
due waits with one ``hook.apoll_many`` call (which a service answers from its list endpoint, or
deduplicates and rate-limits), and hands every wait its own result. Each wait keeps its own poll
interval, timeout and outcome; a wait that is cancelled leaves, and the last one stops the poller.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import weakref
from collections.abc import AsyncIterator, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_tasks.exceptions import RemoteApiError

if TYPE_CHECKING:
    from airflow_provider_tasks.hooks.base import RemoteTaskHook

__all__ = ["PollResult", "Waiter", "active_pollers", "subscribe"]

#: What a poll hands a wait: the snapshot, or the error that reading it met.
PollResult = "TaskSnapshot | BaseException"


@dataclass(eq=False)
class Waiter:
    """One wait's membership in a poller.

    A wait is polled only while it is listening (awaiting :meth:`next`): a wait that took its last
    result and is about to end is not read again before it leaves.
    """

    item_id: str | int
    poll_interval: float
    next_due: float
    results: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    listening: bool = False
    poller: Poller | None = None

    async def next(self) -> Any:
        """The next poll's result for this wait: a TaskSnapshot or an exception instance."""
        self.listening = True
        if self.poller is not None:
            self.poller.listen(self)
        return await self.results.get()


class Poller:
    """Polls the due waits of one (hook class, connection, scope) together."""

    def __init__(self, key: Hashable, hook: RemoteTaskHook, fetch_kwargs: Mapping[str, Any]) -> None:
        self.key = key
        self.hook = hook
        self.fetch_kwargs = dict(fetch_kwargs)
        self.waiters: set[Waiter] = set()
        self.rounds = 0
        self._wake = asyncio.Event()
        self._sleep_until = -math.inf  # while a round runs the loop looks again anyway
        self._task: asyncio.Task[None] | None = None

    def join(self, waiter: Waiter) -> None:
        waiter.poller = self
        self.waiters.add(waiter)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"poller {self.key!r}")

    async def leave(self, waiter: Waiter) -> bool:
        """Remove ``waiter``; True when it was the last one (the poller is then stopped)."""
        self.waiters.discard(waiter)
        if self.waiters:
            return False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.hook.aclose()
        return True

    def listen(self, waiter: Waiter) -> None:
        """``waiter`` awaits its next result: wake the poller if it sleeps past the waiter's due time."""
        if waiter.next_due < self._sleep_until:
            self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiters:
            now = loop.time()
            listening = [waiter for waiter in self.waiters if waiter.listening]
            due = [waiter for waiter in listening if waiter.next_due <= now]
            if not due:
                self._wake.clear()
                self._sleep_until = min((waiter.next_due for waiter in listening), default=math.inf)
                pause = None if self._sleep_until == math.inf else self._sleep_until - now
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)
                self._sleep_until = -math.inf
                continue
            ids = list(dict.fromkeys(waiter.item_id for waiter in due))  # identical waits read once
            try:
                results: Mapping[Any, Any] = await self.hook.apoll_many(ids, **self.fetch_kwargs)
            except Exception as error:  # every due wait learns it; each decides by its own budget
                results = dict.fromkeys(ids, error)
            self.rounds += 1
            for waiter in due:
                if waiter in self.waiters:
                    result = results.get(waiter.item_id)
                    if result is None:
                        result = RemoteApiError(self.hook.service_name, "no status returned", item_id=waiter.item_id)
                    waiter.listening = False  # until it comes back for more (its await has not resumed yet)
                    waiter.results.put_nowait(result)
                    # Timed from the round's start: a long round must not stretch every wait's interval.
                    waiter.next_due = now + waiter.poll_interval


_pollers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, Poller]] = weakref.WeakKeyDictionary()


def active_pollers() -> dict[Hashable, Poller]:
    """The running loop's pollers (for tests and benchmarks)."""
    return _pollers.setdefault(asyncio.get_running_loop(), {})


@contextlib.asynccontextmanager
async def subscribe(
    hook_class: type[RemoteTaskHook],
    conn_id: str,
    item_id: str | int,
    *,
    poll_interval: float,
    fetch_kwargs: Mapping[str, Any] | None = None,
    delay_first_poll: bool = False,
) -> AsyncIterator[Waiter]:
    """Join the poller for this connection and scope; leave it on exit (also on cancellation)."""
    loop = asyncio.get_running_loop()
    kwargs = dict(fetch_kwargs or {})
    key = (hook_class, conn_id, tuple(sorted(kwargs.items())))
    pollers = active_pollers()
    poller = pollers.get(key)
    if poller is None:
        poller = pollers[key] = Poller(key, hook_class(conn_id), kwargs)  # type: ignore[call-arg]
    waiter = Waiter(item_id, poll_interval, loop.time() + (poll_interval if delay_first_poll else 0.0))
    poller.join(waiter)
    try:
        yield waiter
    finally:
        if await poller.leave(waiter) and pollers.get(key) is poller:
            del pollers[key]

"""The triggerer's shared poller: the waits of one event loop on the same service and connection share it.

A triggerer may hold thousands of waits, and they arrive over time (mapped tasks defer one after
another). Each trigger :func:`subscribe` s to the poller of its (hook class, connection, scope). A
round starts when any listening wait is due; it hands the hook every listening wait and says which
are due (``hook.apoll_many(ids, due=...)``): a service answered from a list endpoint answers every
wait its pages show, as a page costs the same whatever the number of waits it answers, so waits
that arrived at different times fall onto the same rounds; per-item reads happen only for due
waits. Each wait keeps its own interval, deadline and outcome (see :class:`~.policy.Wait`).

A poller whose last wait leaves is removed from the registry at once, before it stops, so a wait
that subscribes at that moment gets a fresh poller; a poller whose loop dies ends each of its waits
with an error and is replaced the same way. No wait is ever left without a poller.
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

__all__ = ["Poller", "Waiter", "active_pollers", "subscribe"]


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

    def deliver(self, result: Any, next_due: float | None = None) -> None:
        self.listening = False  # until it comes back for more (its await has not resumed yet)
        if next_due is not None:
            self.next_due = next_due
        self.results.put_nowait(result)


#: Waits answered per turn of the event loop, so that a round ending hundreds of waits at once does not
#: resume them all in one turn. (What held a real triggerer's loop at that moment was each wait's log
#: line waiting for the busy log socket: see :mod:`airflow_provider_tasks.loop_logging`.)
DELIVERY_BATCH = 50


class Poller:
    """Polls the waits of one (hook class, connection, scope) together, in rounds."""

    def __init__(
        self,
        key: Hashable,
        hook: RemoteTaskHook,
        fetch_kwargs: Mapping[str, Any],
        registry: dict[Hashable, Poller],
    ) -> None:
        self.key = key
        self.hook = hook
        self.fetch_kwargs = dict(fetch_kwargs)
        self.waiters: set[Waiter] = set()
        self.rounds = 0
        #: True once the poller stopped taking waits (its last wait left, or its loop died).
        self.closed = False
        self._registry = registry
        self._wake = asyncio.Event()
        self._sleep_until = -math.inf  # while a round runs the loop looks again anyway
        self._task: asyncio.Task[None] | None = None
        self._hook_closed = False

    def join(self, waiter: Waiter) -> None:
        if self.closed:
            raise RuntimeError(f"poller {self.key!r} is closed; subscribe() gives a live one")
        waiter.poller = self
        self.waiters.add(waiter)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"poller {self.key!r}")

    async def leave(self, waiter: Waiter) -> None:
        """Remove ``waiter``; the last one to leave stops the poller (after taking it off the registry)."""
        self.waiters.discard(waiter)
        if self.waiters:
            return
        self._close()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not self._hook_closed:
            self._hook_closed = True
            await self.hook.aclose()

    def _close(self) -> None:
        """Stop taking waits, synchronously: the next subscriber creates a new poller."""
        self.closed = True
        if self._registry.get(self.key) is self:
            del self._registry[self.key]

    def listen(self, waiter: Waiter) -> None:
        """``waiter`` awaits its next result: wake the poller if it sleeps past the waiter's due time."""
        if waiter.next_due < self._sleep_until:
            self._wake.set()

    async def _run(self) -> None:
        try:
            await self._rounds()
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # a bug: end every wait with an error rather than strand it
            self._close()
            crash = RemoteApiError(
                self.hook.service_name, f"the shared poller stopped ({type(error).__name__}: {error})"
            )
            for waiter in list(self.waiters):
                waiter.deliver(crash)
            if not isinstance(error, Exception):
                raise

    async def _rounds(self) -> None:
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
            ids = list(dict.fromkeys(waiter.item_id for waiter in listening))  # identical waits read once
            due_ids = {waiter.item_id for waiter in due}
            try:
                results: Mapping[Any, Any] = await self.hook.apoll_many(ids, due=due_ids, **self.fetch_kwargs)
            except Exception as error:  # every due wait learns it; each decides by its own budget
                results = dict.fromkeys(due_ids, error)
            self.rounds += 1
            for number, waiter in enumerate(listening, start=1):
                if number % DELIVERY_BATCH == 0:
                    await asyncio.sleep(0)
                if waiter not in self.waiters or not waiter.listening:
                    continue
                if waiter.item_id in results:
                    # Timed from the round's start: a long round must not stretch every wait's interval.
                    waiter.deliver(results[waiter.item_id], now + waiter.poll_interval)
                elif waiter.item_id in due_ids:
                    missing = RemoteApiError(self.hook.service_name, "no status returned", item_id=waiter.item_id)
                    waiter.deliver(missing, now + waiter.poll_interval)
            # Let the waits just answered listen again before the next round picks its waits: after a
            # round longer than the interval that round is due at once, and the last ones answered
            # would fall onto a round of their own (a straggler read alone, one more request each).
            await asyncio.sleep(0)


_pollers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, Poller]] = weakref.WeakKeyDictionary()


def active_pollers() -> dict[Hashable, Poller]:
    """The running loop's live pollers (for tests and benchmarks)."""
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
    """Join the live poller for this connection and scope (creating one if needed); leave it on exit,
    also on cancellation."""
    loop = asyncio.get_running_loop()
    kwargs = dict(fetch_kwargs or {})
    key = (hook_class, conn_id, tuple(sorted(kwargs.items())))
    pollers = active_pollers()
    poller = pollers.get(key)
    if poller is None or poller.closed:
        poller = pollers[key] = Poller(key, hook_class(conn_id), kwargs, pollers)  # type: ignore[call-arg]
    waiter = Waiter(item_id, poll_interval, loop.time() + (poll_interval if delay_first_poll else 0.0))
    poller.join(waiter)
    try:
        yield waiter
    finally:
        await poller.leave(waiter)

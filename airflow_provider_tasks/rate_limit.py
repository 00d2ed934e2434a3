"""Spacing of calls that a service rate-limits (Mobizon: one GetStatus per second per key)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Hashable

__all__ = ["MinimumInterval", "for_key"]


class MinimumInterval:
    """Lets calls through at most once per ``interval`` seconds, in arrival order (asyncio locks are FIFO,
    so every waiting caller gets its turn: no starvation)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.calls = 0
        self._lock = asyncio.Lock()
        self._last: float | None = None

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._last is not None:
                delay = self._last + self.interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._last = loop.time()
            self.calls += 1


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, MinimumInterval]] = (
    weakref.WeakKeyDictionary()
)


def for_key(key: Hashable, interval: float) -> MinimumInterval:
    """The running loop's limiter for ``key`` (created on first use)."""
    limiters = _by_loop.setdefault(asyncio.get_running_loop(), {})
    limiter = limiters.get(key)
    if limiter is None:
        limiter = limiters[key] = MinimumInterval(interval)
    return limiter

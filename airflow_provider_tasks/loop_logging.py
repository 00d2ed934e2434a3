"""Logging from the triggerer's event loop without holding it.

On Airflow 3 a trigger's log lines travel to the triggerer's supervisor process over a socket,
through one structlog ``BytesLogger`` whose lock every writer shares. Airflow's trigger runner writes
its own lines from threads (``await log.ainfo(...)``). When the supervisor is busy — it commits the
events of finished triggers one by one, about 12 ms each on SQLite — the socket fills, those threads
hold the lock while they wait, and a plain ``log.info`` from a coroutine then waits for the lock *on
the loop*: with 300 waits ending in one round that held the loop 0.55-0.96 s (Airflow's "async thread
was blocked" notice; the main thread was sampled in ``BytesLogger.msg`` under our ``Wait``'s line).

So the lines a wait or a poll round writes in the triggerer go through :func:`alog`: the logger's
async method where it has one (Airflow 3's loggers; it writes from a thread), else the plain call
(Airflow 2.11's trigger loggers only put the record on a queue). Code shared with the blocking modes
logs into a :class:`HeldLog`, which the coroutine then writes with :meth:`HeldLog.write`, or, where it
must not wait for the sink at all (a wait's lines), with :meth:`HeldLog.write_soon`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from typing import Any, Literal

__all__ = ["HeldLog", "Level", "alog"]

Level = Literal["debug", "info", "warning", "error"]


async def alog(log: Any, level: Level, msg: str, *args: Any) -> None:
    """Write one line with ``log`` without waiting for its sink on the event loop."""
    if _has_async(log, level):
        await getattr(log, f"a{level}")(msg, *args)
    else:
        getattr(log, level)(msg, *args)


def _has_async(log: Any, level: Level) -> bool:
    return inspect.iscoroutinefunction(getattr(log, f"a{level}", None))


class HeldLog:
    """A logger stand-in (``debug``, ``info``, ``warning``, ``error``) that keeps its lines until a
    coroutine writes them with :meth:`write`, in order."""

    def __init__(self) -> None:
        self._lines: list[tuple[Level, str, tuple[Any, ...]]] = []

    def debug(self, msg: str, *args: Any) -> None:
        self._lines.append(("debug", msg, args))

    def info(self, msg: str, *args: Any) -> None:
        self._lines.append(("info", msg, args))

    def warning(self, msg: str, *args: Any) -> None:
        self._lines.append(("warning", msg, args))

    def error(self, msg: str, *args: Any) -> None:
        self._lines.append(("error", msg, args))

    def write_soon(self, log: Any) -> None:
        """Hand the held lines to the loop's default executor at once, without waiting for them: a wait
        must not wait for the log sink before it listens again (missing its poller's round would cost a
        round of its own), nor before its event. Submitted now, a line is written even if the loop ends
        right after (``airflow dags test``): the executor is shut down after its jobs. Loggers without
        async methods (Airflow 2.11's, which only enqueue) write at once."""
        lines, self._lines = self._lines, []
        loop = asyncio.get_running_loop()
        for level, msg, args in lines:
            method = getattr(log, level)
            if _has_async(log, level):
                loop.run_in_executor(None, contextvars.copy_context().run, functools.partial(method, msg, *args))
            else:
                method(msg, *args)

    async def write(self, log: Any) -> None:
        """Write the held lines with ``log`` (see :func:`alog`), in order, and forget them."""
        lines, self._lines = self._lines, []
        for level, msg, args in lines:
            await alog(log, level, msg, *args)

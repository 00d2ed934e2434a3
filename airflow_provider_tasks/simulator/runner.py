"""Serve an aiohttp application from a daemon thread with its own event loop.

Also the plumbing a load-bearing local server needs: an access log without query strings (Mobizon's
key travels there), a big listen backlog, a raised open-files limit and a quiet failure mode when
file descriptors run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

__all__ = ["ACCESS_LOGGER", "ServerThread"]

#: Where the simulator writes one DEBUG line per request: method, path (never the query), status, time.
ACCESS_LOGGER = logging.getLogger("airflow_provider_tasks.simulator.access")
LOGGER = logging.getLogger("airflow_provider_tasks.simulator")
_BACKLOG = 4096  # benchmarks open thousands of connections at once
_SHUTDOWN_TIMEOUT = 0.5  # in-flight requests (slow faults) do not hold stop() up


class _PathOnlyAccessLogger(AbstractAccessLogger):
    """aiohttp's access log prints the query string, which holds Mobizon's API key: this one does not."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug("%s %s %s %.4fs", request.method, request.path, response.status, time)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)


class _AcceptErrorThrottle:
    """Loop exception handler: one warning per 5 s instead of a storm when file descriptors run out.

    On EMFILE, asyncio (3.11-3.13) reports the failed ``accept()`` once per backlog slot and keeps
    retrying every second, which floods the log while thousands of connections are open.
    """

    _MESSAGE = "socket.accept() out of system resource"

    def __init__(self) -> None:
        self._last_warning = -1e9

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != self._MESSAGE:
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self._last_warning >= 5.0:
            self._last_warning = now
            LOGGER.warning(
                "simulator: out of file descriptors (%s); new connections wait. Raise `ulimit -n` or open "
                "fewer connections at once (client and simulator in one process use two per connection).",
                context.get("exception"),
            )


def raise_open_file_limit() -> None:
    """Lift the soft limit on open files to the hard limit (thousands of connections need it)."""
    try:
        import resource
    except ImportError:  # not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class ServerThread:
    """Runs ``app_factory()`` on ``host:port`` (0: a free port) in a daemon thread.

    :meth:`start` returns once connections are accepted (or raises what binding raised, e.g.
    ``OSError`` for a port in use); :meth:`stop` shuts the server down and joins the thread.
    """

    def __init__(self, app_factory: Callable[[], web.Application], host: str, port: int) -> None:
        self._app_factory = app_factory
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int | None:
        """The bound port, once started."""
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the simulator is already started")
        raise_open_file_limit()
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.set_exception_handler(_AcceptErrorThrottle())
            try:
                runner = loop.run_until_complete(self._bind())
            except BaseException as exc:  # handed to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(runner.cleanup())
                _cancel_leftovers(loop)
                loop.close()

        thread = threading.Thread(target=serve, name="posteketab-openreplay-mobizon-simulator", daemon=True)
        self._thread, self._loop = thread, loop
        thread.start()
        ready.wait()
        if failure:
            self._thread = self._loop = None
            raise failure[0]

    def stop(self, timeout: float = 10.0) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = self._loop = None

    async def _bind(self) -> web.AppRunner:
        runner = web.AppRunner(
            self._app_factory(),
            handle_signals=False,
            access_log_class=_PathOnlyAccessLogger,
            access_log=ACCESS_LOGGER,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port, backlog=_BACKLOG, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = int(runner.addresses[0][1])
        return runner


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

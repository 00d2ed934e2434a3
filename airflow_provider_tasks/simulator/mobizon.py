"""Simulated Mobizon API (SPEC §5.3): ``TaskQueue/GetStatus``, ``Campaign/AddRecipients``, ``User/GetOwnBalance``.

Served under ``/mobizon`` and, identically, under ``/mobizon-alt`` (a second "regional server" for
code 13). The API key travels as the ``apiKey`` query parameter; the simulator never logs or
records query strings. Every answer is ``{"code", "data", "message"}`` with HTTP 200.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from airflow_provider_tasks.simulator.core import Step, Timeline
from airflow_provider_tasks.simulator.service import Service, StatusListener, json_response

__all__ = ["ALT_PREFIX", "DEFAULT_STEPS", "MESSAGES", "PREFIX", "MobizonService", "MobizonTask"]

PREFIX = "/mobizon"
ALT_PREFIX = "/mobizon-alt"

#: waiting -> in progress 40% -> in progress 80% -> completed 100%, one poll each.
DEFAULT_STEPS: tuple[Step, ...] = (
    Step(0, polls=1, progress=0),
    Step(1, polls=1, progress=40),
    Step(1, polls=1, progress=80),
    Step(2, progress=100),
)
FIRST_TASK_ID = 5000

#: ``message`` of each code (documented codes, SPEC §5.3).
MESSAGES: dict[int, str] = {
    0: "",
    1: "Validation error",
    2: "Record not found",
    3: "Application error",
    4: "Module not found",
    5: "Method not found",
    6: "Unsupported output format",
    8: "Authorization failed: the API key is missing or invalid",
    9: "Access to this method is denied",
    10: "Record was changed by another request, try again",
    11: "Required parameters are missing",
    12: "Parameter has an invalid value",
    13: "Your account is served by another server, use the domain given in data",
    14: "Your account is blocked",
    15: "Operation could not be completed",
    30: "Too many requests, try again later",
    98: "Some operations failed",
    99: "No operation was performed",
    100: "The operation was sent to background processing",
    999: "Service error, try again later",
}
_INTEGER = re.compile(r"\d+")


@dataclass
class MobizonTask:
    """One background task of the TaskQueue."""

    task_id: int
    timeline: Timeline

    @property
    def key(self) -> str:
        return str(self.task_id)

    def status(self) -> tuple[int, int]:
        """``(status, progress)`` of the current step."""
        step = self.timeline.current
        status = int(step.status)
        progress = step.progress if step.progress is not None else (100 if status == 2 else 0)
        return status, progress


class MobizonService(Service[MobizonTask]):
    """Mobizon: key in the query string, form body, envelope decided by ``code``.

    :param api_key: the key the simulator accepts.
    :param alt_url: returns the base URL of the second regional server (``data`` of code 13).
    :param numbers_as_strings: send ``progress``/``status`` as ``"40"`` like the real API does.
    :param rate_limit: least seconds between two accepted GetStatus calls of one key (None: off).
    """

    name = "mobizon"
    prefixes = (PREFIX + "/", ALT_PREFIX + "/")
    status_type = int

    def __init__(
        self,
        lock: threading.RLock,
        on_status_change: StatusListener,
        *,
        api_key: str,
        alt_url: Callable[[], str],
        numbers_as_strings: bool = True,
        rate_limit: float | None = 1.0,
    ) -> None:
        super().__init__(lock, on_status_change)
        self.api_key = api_key
        self.numbers_as_strings = numbers_as_strings
        self.rate_limit = rate_limit
        #: GetStatus calls refused with code 30 by the rate limiter (not by faults).
        self.rate_limited = 0
        self._alt_url = alt_url
        self._next_id = FIRST_TASK_ID
        self._last_accepted: dict[str, float] = {}

    def _clear(self) -> None:
        super()._clear()
        self.rate_limited = 0
        self._next_id = FIRST_TASK_ID
        self._last_accepted.clear()

    def add_task(self, task_id: int | None = None, *, steps: Sequence[Step] = DEFAULT_STEPS) -> int:
        """Create a background task and return its id (5000, 5001, ... skipping ids in use).

        :param steps: statuses 0 waiting, 1 in progress, 2 completed, 3 rejected; each step's
            ``progress`` is what GetStatus reports during it.
        """
        if task_id is not None and (isinstance(task_id, bool) or not isinstance(task_id, int) or task_id < 1):
            raise ValueError(f"a Mobizon task id is a positive int, not {task_id!r}")
        with self._lock:
            return self._create(task_id, steps).task_id

    def _create(self, task_id: int | None, steps: Sequence[Step]) -> MobizonTask:
        if task_id is None:
            while str(self._next_id) in self._items:
                self._next_id += 1
            task_id = self._next_id
            self._next_id += 1
        task = MobizonTask(task_id, self._new_timeline(str(task_id), steps, time.monotonic()))
        self._store(task)
        return task

    def reset_rate_limit(self) -> None:
        """Forget when each key last called GetStatus (the next call of every key is accepted)."""
        with self._lock:
            self._last_accepted.clear()

    # ---- HTTP -----------------------------------------------------------------------------------

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [
            web.route(method, f"{prefix}/service/{{module}}/{{method}}", self._dispatch)
            for prefix in (PREFIX, ALT_PREFIX)
            for method in ("GET", "POST")
        ]

    def envelope(self, code: int, data: Any = None, message: str | None = None) -> web.Response:
        """``{"code", "data", "message"}``, always HTTP 200."""
        return json_response(
            {"code": code, "data": data, "message": MESSAGES.get(code, "") if message is None else message}
        )

    def code_error(self, code: int) -> web.Response:
        return self.envelope(code, self._alt_url() if code == 13 else None)

    def _number(self, value: int) -> int | str:
        return str(value) if self.numbers_as_strings else value

    async def _dispatch(self, request: web.Request) -> web.Response:
        module = request.match_info["module"].lower()
        method = request.match_info["method"].lower()
        handlers = {
            ("taskqueue", "getstatus"): self._get_status,
            ("campaign", "addrecipients"): self._add_recipients,
            ("user", "getownbalance"): self._get_own_balance,
        }
        if module not in {m for m, _ in handlers}:
            return self.envelope(4)
        handler = handlers.get((module, method))
        if handler is None:
            return self.envelope(5)
        if request.query.get("output", "json").lower() != "json":
            return self.envelope(6)
        if request.query.get("apiKey") != self.api_key:
            return self.envelope(8)
        form = await request.post()
        params: dict[str, str] = {k: v for k, v in request.query.items() if k != "apiKey"}
        params.update((k, v) for k, v in form.items() if isinstance(v, str))
        return handler(params)

    def _get_status(self, params: dict[str, str]) -> web.Response:
        now = time.monotonic()
        with self._lock:
            if self.rate_limit is not None:
                last = self._last_accepted.get(self.api_key)
                if last is not None and now - last < self.rate_limit:
                    self.rate_limited += 1
                    return self.envelope(30)
                self._last_accepted[self.api_key] = now
            raw = params.get("id", "").strip()
            if not raw:
                return self.envelope(11, None, "Required parameter is missing: id")
            if not _INTEGER.fullmatch(raw) or int(raw) < 1:
                return self.envelope(1, {"id": "The task id must be a positive integer"})
            task = self._items.get(str(int(raw)))
            if task is None:
                return self.envelope(2)
            task.timeline.poll(now)
            status, progress = task.status()
        return self.envelope(0, {"progress": self._number(progress), "status": self._number(status)})

    def _get_own_balance(self, params: dict[str, str]) -> web.Response:
        """A cheap authenticated call (what connection tests use)."""
        return self.envelope(0, {"balance": "1000.0000", "currency": "KZT"})

    def _add_recipients(self, params: dict[str, str]) -> web.Response:
        with self._lock:
            task = self._create(None, DEFAULT_STEPS)
        return self.envelope(100, self._number(task.task_id))

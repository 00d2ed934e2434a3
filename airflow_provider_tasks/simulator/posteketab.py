"""Simulated Post-e-Ketab public API v2 (SPEC §5.1): ``task/detail/`` and ``task/list/``.

Served under ``/posteketab/api/v2/public``. Every answer is the ``{"returns": {...}, "entries": ...}``
envelope; errors carry the platform's code and Persian message with HTTP 200 unless the simulator
was built with another ``posteketab_error_http_status``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from aiohttp import web

from airflow_provider_tasks.simulator.core import Step, Timeline
from airflow_provider_tasks.simulator.service import Service, StatusListener, json_response, reason

__all__ = ["DEFAULT_STEPS", "MESSAGES", "PREFIX", "PostEKetabService", "PostEKetabTask", "default_rows"]

PREFIX = "/posteketab/api/v2/public"

#: registered (1 poll) -> in progress (1 poll) -> finished.
DEFAULT_STEPS: tuple[Step, ...] = (Step(0, polls=1), Step(2, polls=1), Step(3))

#: ``returns.message`` of the codes the simulator answers with (others get a generic message).
MESSAGES: dict[int, str] = {
    200: "عملیات با موفقیت انجام شد.",
    300: "اطلاعات ورودی نامعتبر است.",
    301: "خطای داخلی سرور رخ داده است.",
    332: "توکن یافت نشد.",
    336: "نشست شما منقضی شده است.",
    337: "شما دسترسی لازم برای این عملیات را ندارید.",
    339: "شناسه وارد شده معتبر نیست.",
    350: "خطای داخلی سرور رخ داده است.",
    362: "تسک مورد نظر یافت نشد.",
    364: "خطای داخلی سرور رخ داده است.",
    369: "تسک هنوز به پایان نرسیده است.",
}
_GENERIC_MESSAGE = "خطایی رخ داده است."

_STARTED = frozenset({2, 3, 4})
_ENDED = frozenset({3, 4})


def _tehran() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Tehran")
    except Exception:  # no tz database on this machine: Iran has kept +03:30 all year since 2022
        return timezone(timedelta(hours=3, minutes=30), "Asia/Tehran")


TEHRAN = _tehran()


def tehran_iso(moment: datetime | float) -> str:
    """Naive ISO 8601 with microseconds in Tehran local time, as the real API writes timestamps.

    ``moment`` is an epoch, an aware datetime, or a naive datetime already in Tehran time.
    """
    if isinstance(moment, datetime):
        local = moment.astimezone(TEHRAN) if moment.tzinfo is not None else moment
    else:
        local = datetime.fromtimestamp(moment, TEHRAN)
    return local.replace(tzinfo=None).isoformat(timespec="microseconds")


def default_rows(task_type: int) -> list[dict[str, Any]]:
    """Three successful ``task_result`` rows shaped for ``task_type`` (types 2 and 3 have none)."""
    names = ("زهرا احمدی", "علی رضایی", "مریم کریمی")
    if task_type == 0:
        return [
            {
                "local_id": index,
                "full_name": name,
                "province": 8,
                "city": 1,
                "message": "سفارش با موفقیت ثبت شد.",
                "is_success": True,
            }
            for index, name in enumerate(names, start=1)
        ]
    if task_type in (1, 4):
        return [
            {
                "id": str(100000 + index),
                "full_name": name,
                "province": "تهران",
                "city": "تهران",
                "message": "عملیات با موفقیت انجام شد.",
                "is_success": True,
            }
            for index, name in enumerate(names, start=1)
        ]
    return []


@dataclass
class PostEKetabTask:
    """One background task. ``created_at`` is already formatted (naive Tehran time)."""

    key: str
    task_type: int
    created_at: str
    task_result: list[dict[str, Any]]
    timeline: Timeline

    def summary(self) -> dict[str, Any]:
        """The item of ``task/list/``."""
        return {
            "id": self.key,
            "task_type": self.task_type,
            "task_status": self.timeline.current.status,
            "created_at": self.created_at,
        }

    def detail(self) -> dict[str, Any]:
        """The ``entries`` of ``task/detail/``: timestamps follow the status history."""
        status = self.timeline.current.status
        history = self.timeline.history
        started = next((t for t in history if t.step.status in _STARTED), None) if status in _STARTED else None
        ended = history[-1] if status in _ENDED else None
        return {
            "id": self.key,
            "task_type": self.task_type,
            "task_status": status,
            "created_at": self.created_at,
            "started_at": tehran_iso(started.epoch) if started else None,
            "ended_at": tehran_iso(ended.epoch) if ended else None,
            "has_downloadable_file": self.task_type in (2, 3) and status == 3,
            "task_result": list(self.task_result) if status in _ENDED else [],
        }


class PostEKetabService(Service[PostEKetabTask]):
    """Post-e-Ketab: JWT auth, POST + JSON body, envelope with ``returns.status``.

    :param token: the JWT the simulator accepts (``Authorization: JWT <token>``).
    :param error_http_status: HTTP status of envelope errors (the real one is undocumented).
    """

    name = "posteketab"
    prefixes = (PREFIX + "/",)
    status_type = int

    def __init__(
        self, lock: threading.RLock, on_status_change: StatusListener, *, token: str, error_http_status: int = 200
    ) -> None:
        super().__init__(lock, on_status_change)
        self.token = token
        self.error_http_status = error_http_status

    def add_task(
        self,
        task_id: str | None = None,
        *,
        task_type: int = 0,
        steps: Sequence[Step] = DEFAULT_STEPS,
        task_result: list[dict[str, Any]] | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """Create a task and return its id.

        :param task_id: any string (default: a new uuid4); the real API does not insist on UUIDs.
        :param task_type: 0-4 (SPEC §5.1); decides the shape of the generated ``task_result``.
        :param steps: its status timeline; statuses 0/1 pending, 2 running, 3 finished, 4 error.
            ``started_at`` is set when it first reaches 2 (or ends), ``ended_at`` when it reaches 3/4.
        :param task_result: rows shown once the task has ended (default: :func:`default_rows`).
        :param created_at: creation time (aware, or naive Tehran time); default now.
        """
        key = str(uuid.uuid4()) if task_id is None else str(task_id)
        if not key:
            raise ValueError("posteketab task_id must not be empty")
        now = time.monotonic()
        with self._lock:
            task = PostEKetabTask(
                key=key,
                task_type=task_type,
                created_at=tehran_iso(created_at if created_at is not None else time.time()),
                task_result=default_rows(task_type) if task_result is None else list(task_result),
                timeline=self._new_timeline(key, steps, now),
            )
            self._store(task)
        return key

    # ---- HTTP -----------------------------------------------------------------------------------

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [
            web.post(f"{PREFIX}/task/detail/", self._detail),
            web.post(f"{PREFIX}/task/list/", self._list),
        ]

    def envelope(self, code: int, entries: Any = None) -> web.Response:
        """The platform's envelope; any code but 200 goes out with ``error_http_status``."""
        body = {"returns": {"status": code, "message": MESSAGES.get(code, _GENERIC_MESSAGE)}, "entries": entries}
        return json_response(body, status=200 if code == 200 else self.error_http_status)

    def code_error(self, code: int) -> web.Response:
        return self.envelope(code)

    def http_error(self, status: int) -> web.Response:
        if 400 <= status < 500:  # Django REST framework style
            return json_response({"detail": reason(status)}, status=status)
        return super().http_error(status)

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return scheme.upper() == "JWT" and value.strip() == self.token

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _detail(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.envelope(332)
        body = await self._body(request)
        task_id = body.get("task_id") if body is not None else None
        if not isinstance(task_id, str) or not task_id.strip():
            return self.envelope(300)
        with self._lock:
            task = self._items.get(task_id)
            if task is None:
                return self.envelope(362)
            task.timeline.poll(time.monotonic())
            entries = task.detail()
        return self.envelope(200, entries)

    async def _list(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.envelope(332)
        body = await self._body(request)
        if body is None:
            return self.envelope(300)
        count, page = body.get("count", 10), body.get("page", 1)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (count, page)):
            return self.envelope(300)
        now = time.monotonic()
        with self._lock:
            tasks = list(self._items.values())
            for task in tasks:
                task.timeline.peek(now)
            # newest first; the stable sort keeps later-created tasks first among equal timestamps
            tasks.reverse()
            tasks.sort(key=lambda t: t.created_at, reverse=True)
            chosen = [task.summary() for task in tasks[(page - 1) * count : page * count]]
        return self.envelope(200, {"list": chosen, "count": count, "page": page, "total_count": len(tasks)})

"""Deferrable wait for a Post-e-Ketab task, and the event trigger of finished tasks (``AssetWatcher``)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import pendulum

from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.hooks.posteketab import TASK_STATUS_STATES, PostEKetabHook
from airflow_provider_tasks.states import TaskSnapshot
from airflow_provider_tasks.triggers.base import RemoteTaskTrigger
from airflow_provider_tasks.triggers.events import FinishedItemsTrigger, filter_values
from airflow_provider_tasks.validation import require_text_id
from airflow_provider_tasks.waits.events import jsonable

__all__ = ["PostEKetabTaskFinishedTrigger", "PostEKetabTaskTrigger"]

#: Tasks per ``task/list/`` page the event trigger reads.
EVENT_PAGE_SIZE = 100
#: ``task_status`` values an event can announce (3 finished, 4 error).
FINISHED_STATUSES = tuple(status for status, state in TASK_STATUS_STATES.items() if state.is_terminal)
#: ``task_type`` values (SPEC §5.1).
TASK_TYPES = (0, 1, 2, 3, 4)


def _utc_key(value: Any) -> str:
    """``created_at`` as a sortable UTC string (the hook parses it in the connection's timezone)."""
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value or "")


class PostEKetabTaskTrigger(RemoteTaskTrigger):
    """Fires when the Post-e-Ketab task reaches status 3 (finished) or 4 (error).

    :param posteketab_task_id: the task id.
    :param posteketab_conn_id: Airflow connection id.
    :param poll_interval: seconds between polls.
    :param end_time: epoch seconds after which a ``timeout`` event fires.
    """

    hook_class = PostEKetabHook
    id_kwarg = "posteketab_task_id"

    def __init__(
        self,
        posteketab_task_id: str,
        posteketab_conn_id: str = PostEKetabHook.default_conn_name,
        poll_interval: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(item_id=posteketab_task_id, conn_id=posteketab_conn_id, poll_interval=poll_interval, **kwargs)

    def validate_id(self, value: Any) -> str:
        return require_text_id("posteketab_task_id", value)


class PostEKetabTaskFinishedTrigger(FinishedItemsTrigger):
    """Fires one event per Post-e-Ketab task that reaches status 3 (finished) or 4 (error): use it in an
    ``AssetWatcher`` to start a DAG run whenever, say, an Excel import finishes (see
    :mod:`airflow_provider_tasks.triggers.events` for how each task is announced once).

    The event's payload: ``service``, ``id``, ``type`` (``task_type``), ``status`` (``task_status``),
    ``state``, ``created_at`` (ISO 8601 with offset) and ``item`` (the task as listed; its rows are
    read with ``PostEKetabTaskResultOperator``).

    :param posteketab_task_type: only tasks of this type (0-4; one or a list).
    :param posteketab_task_status: announce only tasks ending in this status (3 or 4; default both).
    :param created_after: also announce tasks created after this moment (ISO 8601; zone-less means the
        connection's timezone) that had already finished when the watcher started (default: only
        tasks finishing after it starts).
    :param posteketab_conn_id: Airflow connection id.
    :param poll_interval: seconds between two reads of the task list (default 30).
    """

    hook_class = PostEKetabHook

    def __init__(
        self,
        posteketab_task_type: int | list[int] | None = None,
        posteketab_task_status: int | list[int] | None = None,
        created_after: str | None = None,
        posteketab_conn_id: str = PostEKetabHook.default_conn_name,
        poll_interval: float = 30.0,
    ) -> None:
        super().__init__(conn_id=posteketab_conn_id, poll_interval=poll_interval)
        self.posteketab_task_type = filter_values("posteketab_task_type", posteketab_task_type, TASK_TYPES)
        self.posteketab_task_status = filter_values("posteketab_task_status", posteketab_task_status, FINISHED_STATUSES)
        if created_after is not None:
            try:
                pendulum.parse(str(created_after))
            except Exception:
                raise ValueError(f"created_after must be an ISO 8601 date-time, got {created_after!r}") from None
        self.created_after = created_after

    def arguments(self) -> dict[str, Any]:
        return {
            "posteketab_task_type": self.posteketab_task_type,
            "posteketab_task_status": self.posteketab_task_status,
            "created_after": self.created_after,
        }

    @classmethod
    async def read_page(
        cls, hook: RemoteTaskHook, scope: tuple[Any, ...], page: int
    ) -> tuple[list[dict[str, Any]], bool]:
        assert isinstance(hook, PostEKetabHook)
        entries = await hook.alist_tasks(page=page, count=EVENT_PAGE_SIZE)
        items = list(entries["list"])
        total = entries.get("total_count")
        more = len(items) >= EVENT_PAGE_SIZE and not (isinstance(total, int) and page * EVENT_PAGE_SIZE >= total)
        return items, more

    def key_of(self, item: Mapping[str, Any]) -> str:
        return str(item.get("id"))

    def order_of(self, item: Mapping[str, Any]) -> Any:
        return _utc_key(item.get("created_at"))

    def start(self) -> Any:
        if self.created_after is None:
            return None
        hook = self.hook
        zone = pendulum.timezone(hook.settings_timezone if isinstance(hook, PostEKetabHook) else "Asia/Tehran")
        return _utc_key(pendulum.parse(str(self.created_after), tz=zone))

    def matches(self, item: Mapping[str, Any]) -> bool:
        return self.posteketab_task_type is None or item.get("task_type") in self.posteketab_task_type

    def wanted_end(self, snapshot: TaskSnapshot) -> bool:
        return self.posteketab_task_status is None or snapshot.raw.get("task_status") in self.posteketab_task_status

    def payload(self, item: Mapping[str, Any], snapshot: TaskSnapshot) -> dict[str, Any]:
        created = item.get("created_at")
        return {
            "service": self.hook_class.service_name,
            "id": item.get("id"),
            "type": item.get("task_type"),
            "status": item.get("task_status"),
            "state": snapshot.state.value,
            "created_at": created.isoformat() if isinstance(created, datetime.datetime) else created,
            "item": jsonable({key: value for key, value in item.items() if key != "task_result"}),
        }

"""Deferrable wait for an OpenReplay job, and the event trigger of finished jobs (``AssetWatcher``)."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Mapping
from typing import Any

from airflow_provider_tasks.exceptions import RemoteError
from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.hooks.openreplay import JOB_STATUS_STATES, MAX_PAGE_SIZE, OpenReplayHook
from airflow_provider_tasks.loop_logging import alog
from airflow_provider_tasks.states import TaskSnapshot
from airflow_provider_tasks.triggers.base import RemoteTaskTrigger
from airflow_provider_tasks.triggers.events import FinishedItemsTrigger, filter_values, text_values
from airflow_provider_tasks.validation import require_positive_int, require_text_id
from airflow_provider_tasks.waits.events import jsonable
from airflow_provider_tasks.waits.ownership import may_cancel_owned_job

__all__ = ["OpenReplayJobFinishedTrigger", "OpenReplayJobTrigger"]

#: The job statuses an event can announce.
FINISHED_STATUSES = tuple(status for status, state in JOB_STATUS_STATES.items() if state.is_terminal)

_ON_KILL_TIMEOUT = 30.0


class OpenReplayJobTrigger(RemoteTaskTrigger):
    """Fires when the OpenReplay job is completed, failed or cancelled.

    :param job_id: the job id.
    :param openreplay_conn_id: Airflow connection id.
    :param project_key: the project (default: the connection's ``project_key`` extra).
    :param poll_interval: seconds between polls.
    :param end_time: epoch seconds after which a ``timeout`` event fires.
    :param cancel_on_kill: cancel the job when a user kills the deferred task (Airflow 3.3+ calls
        ``on_kill``); set by operators that created the job themselves.
    """

    hook_class = OpenReplayHook
    id_kwarg = "job_id"

    def __init__(
        self,
        job_id: int,
        openreplay_conn_id: str = OpenReplayHook.default_conn_name,
        project_key: str | None = None,
        poll_interval: float = 300.0,
        cancel_on_kill: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(item_id=job_id, conn_id=openreplay_conn_id, poll_interval=poll_interval, **kwargs)
        self.project_key = project_key
        self.cancel_on_kill = cancel_on_kill

    def validate_id(self, value: Any) -> int:
        return require_positive_int("job_id", value)

    def fetch_kwargs(self) -> dict[str, Any]:
        return {"project_key": self.project_key or None}  # a template may render to ""

    def event_extras(self) -> dict[str, Any]:
        return {"owned": self.cancel_on_kill}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        classpath, kwargs = super().serialize()
        return classpath, {**kwargs, "cancel_on_kill": self.cancel_on_kill}

    async def on_kill(self) -> None:
        """Cancel the job this task owns when a user really stopped the deferred task (best effort).

        Airflow 3.3+ calls this when a user marks the task failed or clears it, and also when another
        triggerer adopted this trigger after a failover: the task's state tells the two apart.
        """
        if not self.cancel_on_kill:
            return
        # Airflow's triggerer re-sends the cancel at each state sync while a trigger shuts down, and each
        # one would cut this short (the first state query alone can outlast a sync): the decision and the
        # DELETE run in a task of their own, which those cancels do not reach.
        decision = asyncio.ensure_future(self._cancel_owned_job())
        _LIVE_CANCELS.add(decision)
        decision.add_done_callback(_LIVE_CANCELS.discard)
        await asyncio.shield(decision)

    async def _cancel_owned_job(self) -> None:
        verdict = await may_cancel_owned_job(getattr(self, "task_instance", None))
        if not verdict.cancel:
            await alog(self.log, "info", "OpenReplay job %s left running: %s", self.item_id, verdict.reason)
            return
        hook = OpenReplayHook(self.conn_id)
        try:
            job = await asyncio.wait_for(hook.acancel_if_active(int(self.item_id), self.project_key), _ON_KILL_TIMEOUT)
            await alog(
                self.log,
                "warning",
                "OpenReplay job %s, created by this task, is %s: %s",
                self.item_id,
                job.get("status"),
                verdict.reason,
            )
        except (TimeoutError, RemoteError) as error:
            await alog(
                self.log, "warning", "Could not cancel OpenReplay job %s (%s): %s", self.item_id, verdict.reason, error
            )
        finally:
            await hook.aclose()


#: Cancels under way (a task the loop only holds weakly must be kept until it ends).
_LIVE_CANCELS: set[asyncio.Future[None]] = set()


def _iso_from_ms(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value / 1000, datetime.UTC).isoformat()
    return None


class OpenReplayJobFinishedTrigger(FinishedItemsTrigger):
    """Fires one event per OpenReplay job that reaches ``completed``, ``failed`` or ``cancelled``: use it
    in an ``AssetWatcher`` to start a DAG run whenever such a job finishes (see
    :mod:`airflow_provider_tasks.triggers.events` for how each job is announced once).

    The event's payload: ``service``, ``id`` (``jobId``), ``type`` (``action``), ``status``, ``state``,
    ``reference_id``, ``created_at``/``updated_at`` (ISO 8601, UTC) and ``item`` (the job as listed).

    :param status: announce only jobs ending in these statuses (one or a list; default all three).
    :param action: only jobs of this action (e.g. ``delete_user_data``; one or a list).
    :param reference_id: only jobs about this reference (the user id of a deletion job).
    :param project_key: the project (default: the connection's ``project_key`` extra).
    :param after_job_id: also announce jobs newer than this id that had already finished when the
        watcher started (default: only jobs finishing after it starts).
    :param openreplay_conn_id: Airflow connection id.
    :param poll_interval: seconds between two reads of the jobs list (default 300: jobs run nightly).
    """

    hook_class = OpenReplayHook

    def __init__(
        self,
        status: str | list[str] | None = None,
        action: str | list[str] | None = None,
        reference_id: str | None = None,
        project_key: str | None = None,
        after_job_id: int | None = None,
        openreplay_conn_id: str = OpenReplayHook.default_conn_name,
        poll_interval: float = 300.0,
    ) -> None:
        super().__init__(conn_id=openreplay_conn_id, poll_interval=poll_interval)
        self.status = filter_values("status", status, FINISHED_STATUSES)
        self.action = text_values("action", action)
        self.reference_id = None if reference_id is None else require_text_id("reference_id", reference_id)
        self.project_key = None if project_key is None else require_text_id("project_key", project_key)
        self.after_job_id = None if after_job_id is None else require_positive_int("after_job_id", after_job_id)

    def arguments(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "action": self.action,
            "reference_id": self.reference_id,
            "project_key": self.project_key,
            "after_job_id": self.after_job_id,
        }

    def scope(self) -> tuple[Any, ...]:
        return (self.project_key,)

    @classmethod
    async def read_page(
        cls, hook: RemoteTaskHook, scope: tuple[Any, ...], page: int
    ) -> tuple[list[dict[str, Any]], bool]:
        assert isinstance(hook, OpenReplayHook)
        jobs = await hook.alist_jobs(scope[0], limit=MAX_PAGE_SIZE, page=page)
        return jobs, len(jobs) >= MAX_PAGE_SIZE

    def key_of(self, item: Mapping[str, Any]) -> str:
        return str(item.get("jobId"))

    def order_of(self, item: Mapping[str, Any]) -> Any:
        job_id = item.get("jobId")
        return job_id if isinstance(job_id, int) else 0

    def start(self) -> Any:
        return self.after_job_id

    def matches(self, item: Mapping[str, Any]) -> bool:
        return (self.action is None or item.get("action") in self.action) and (
            self.reference_id is None or item.get("referenceId") == self.reference_id
        )

    def wanted_end(self, snapshot: TaskSnapshot) -> bool:
        return self.status is None or snapshot.raw.get("status") in self.status

    async def read_open(self, hook: RemoteTaskHook, ids: list[str]) -> Mapping[Any, Any]:
        return await hook.apoll_many(ids, project_key=self.project_key)

    def payload(self, item: Mapping[str, Any], snapshot: TaskSnapshot) -> dict[str, Any]:
        return {
            "service": self.hook_class.service_name,
            "id": item.get("jobId"),
            "type": item.get("action"),
            "status": item.get("status"),
            "state": snapshot.state.value,
            "reference_id": item.get("referenceId"),
            "created_at": _iso_from_ms(item.get("createdAt")),
            "updated_at": _iso_from_ms(item.get("updatedAt")),
            "errors": item.get("errors"),
            "item": jsonable(dict(item)),
        }

"""Deferrable wait for an OpenReplay job."""

from __future__ import annotations

import asyncio
from typing import Any

from airflow_provider_tasks.exceptions import RemoteError
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.triggers.base import RemoteTaskTrigger
from airflow_provider_tasks.waits.ownership import may_cancel_owned_job

__all__ = ["OpenReplayJobTrigger"]

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

    def fetch_kwargs(self) -> dict[str, Any]:
        return {"project_key": self.project_key}

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
        verdict = await may_cancel_owned_job(getattr(self, "task_instance", None))
        if not verdict.cancel:
            self.log.info("OpenReplay job %s left running: %s", self.item_id, verdict.reason)
            return
        hook = OpenReplayHook(self.conn_id)
        try:
            job = await asyncio.wait_for(hook.acancel_if_active(int(self.item_id), self.project_key), _ON_KILL_TIMEOUT)
            self.log.warning(
                "OpenReplay job %s, created by this task, is %s: %s", self.item_id, job.get("status"), verdict.reason
            )
        except (TimeoutError, RemoteError) as error:
            self.log.warning("Could not cancel OpenReplay job %s (%s): %s", self.item_id, verdict.reason, error)
        finally:
            await hook.aclose()

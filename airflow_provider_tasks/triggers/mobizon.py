"""Deferrable wait for a Mobizon background task."""

from __future__ import annotations

from typing import Any

from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.triggers.base import RemoteTaskTrigger
from airflow_provider_tasks.validation import require_positive_int

__all__ = ["MIN_POLL_INTERVAL", "MobizonTaskTrigger"]

#: Mobizon allows at most one GetStatus call per second per key.
MIN_POLL_INTERVAL = 1.0


class MobizonTaskTrigger(RemoteTaskTrigger):
    """Fires when the Mobizon task is completed (2) or rejected (3); logs progress as it moves.

    :param mobizon_task_id: the background task id.
    :param mobizon_conn_id: Airflow connection id.
    :param poll_interval: seconds between polls, never less than 1.
    :param end_time: epoch seconds after which a ``timeout`` event fires.
    """

    hook_class = MobizonHook
    id_kwarg = "mobizon_task_id"

    def __init__(
        self,
        mobizon_task_id: int,
        mobizon_conn_id: str = MobizonHook.default_conn_name,
        poll_interval: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            item_id=mobizon_task_id,
            conn_id=mobizon_conn_id,
            poll_interval=max(MIN_POLL_INTERVAL, poll_interval),
            **kwargs,
        )

    def validate_id(self, value: Any) -> int:
        return require_positive_int("mobizon_task_id", value)

"""Deferrable wait for a Post-e-Ketab task."""

from __future__ import annotations

from typing import Any

from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.triggers.base import RemoteTaskTrigger
from airflow_provider_tasks.validation import require_text_id

__all__ = ["PostEKetabTaskTrigger"]


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

"""Sensor for Post-e-Ketab background tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.links import PostEKetabTaskLink
from airflow_provider_tasks.sensors.base import RemoteTaskSensor
from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskTrigger
from airflow_provider_tasks.validation import require_text_id

__all__ = ["PostEKetabTaskSensor"]


class PostEKetabTaskSensor(RemoteTaskSensor):
    """Waits until a Post-e-Ketab task is finished (status 3) and returns its ``entries`` (XCom).

    Status 4 (error) raises :class:`~airflow_provider_tasks.exceptions.RemoteTaskFailed`.

    :param posteketab_task_id: the task id (templated). Not checked for UUID form: the service's own
        sample ids are not UUIDs.
    :param posteketab_conn_id: Airflow connection id (default ``posteketab_default``).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poke_interval: seconds between checks (default 30).
    :param start_from_trigger: start the wait in the triggerer (Airflow 3.3+; implies ``deferrable``).
    """

    template_fields: Sequence[str] = ("posteketab_task_id",)
    hook_class = PostEKetabHook
    trigger_class = PostEKetabTaskTrigger
    link_class = PostEKetabTaskLink
    operator_extra_links = (PostEKetabTaskLink(),)
    id_attr = "posteketab_task_id"

    def __init__(
        self,
        *,
        posteketab_task_id: str,
        posteketab_conn_id: str = PostEKetabHook.default_conn_name,
        deferrable: bool | None = None,
        poke_interval: float = 30.0,
        start_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            start_from_trigger=start_from_trigger,
            item_id=posteketab_task_id,
            conn_id=posteketab_conn_id,
            deferrable=deferrable,
            poke_interval=poke_interval,
            **kwargs,
        )

    def validate_id(self, value: Any) -> str:
        return require_text_id("posteketab_task_id", value)

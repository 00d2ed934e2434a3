"""Sensor for Mobizon background tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.links import MobizonTaskLink
from airflow_provider_tasks.sensors.base import RemoteTaskSensor
from airflow_provider_tasks.triggers.mobizon import MIN_POLL_INTERVAL, MobizonTaskTrigger
from airflow_provider_tasks.validation import require_positive_int

__all__ = ["MobizonTaskSensor"]


class MobizonTaskSensor(RemoteTaskSensor):
    """Waits until a Mobizon background task is completed (2) and returns its status (XCom).

    Status 3 (rejected) raises :class:`~airflow_provider_tasks.exceptions.RemoteTaskFailed`.
    Progress is logged as it moves (``progress 40%``).

    :param mobizon_task_id: the background task id, a positive integer (templated).
    :param mobizon_conn_id: Airflow connection id (default ``mobizon_default``).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poke_interval: seconds between checks (default 5; never below 1, Mobizon's rate limit).
    :param start_from_trigger: start the wait in the triggerer (Airflow 3.3+; implies ``deferrable``).
    """

    template_fields: Sequence[str] = ("mobizon_task_id",)
    hook_class = MobizonHook
    trigger_class = MobizonTaskTrigger
    link_class = MobizonTaskLink
    operator_extra_links = (MobizonTaskLink(),)
    id_attr = "mobizon_task_id"
    min_poke_interval = MIN_POLL_INTERVAL

    def __init__(
        self,
        *,
        mobizon_task_id: int | str,
        mobizon_conn_id: str = MobizonHook.default_conn_name,
        deferrable: bool | None = None,
        poke_interval: float = 5.0,
        start_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            start_from_trigger=start_from_trigger,
            item_id=mobizon_task_id,
            conn_id=mobizon_conn_id,
            deferrable=deferrable,
            poke_interval=poke_interval,
            **kwargs,
        )

    def validate_id(self, value: Any) -> int:
        return require_positive_int("mobizon_task_id", value)

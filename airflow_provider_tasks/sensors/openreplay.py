"""Sensor for OpenReplay jobs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.links import OpenReplayJobLink
from airflow_provider_tasks.sensors.base import RemoteTaskSensor
from airflow_provider_tasks.triggers.openreplay import OpenReplayJobTrigger
from airflow_provider_tasks.validation import require_positive_int

__all__ = ["OpenReplayJobSensor"]


class OpenReplayJobSensor(RemoteTaskSensor):
    """Waits until an OpenReplay job is ``completed`` and returns the job (XCom).

    ``failed`` and ``cancelled`` raise :class:`~airflow_provider_tasks.exceptions.RemoteTaskFailed`
    (with the job's ``errors``). Jobs run once a night (about 00:15 UTC), hence the 5-minute default.

    :param job_id: the job id, a positive integer (templated).
    :param project_key: the project (templated; default: the connection's ``project_key`` extra).
    :param openreplay_conn_id: Airflow connection id (default ``openreplay_default``).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poke_interval: seconds between checks (default 300).
    :param start_from_trigger: start the wait in the triggerer (Airflow 3.3+; implies ``deferrable``).
    """

    template_fields: Sequence[str] = ("job_id", "project_key")
    hook_class = OpenReplayHook
    trigger_class = OpenReplayJobTrigger
    link_class = OpenReplayJobLink
    operator_extra_links = (OpenReplayJobLink(),)
    id_attr = "job_id"
    project_key: str | None

    def __init__(
        self,
        *,
        job_id: int | str,
        project_key: str | None = None,
        openreplay_conn_id: str = OpenReplayHook.default_conn_name,
        deferrable: bool | None = None,
        poke_interval: float = 300.0,
        start_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            item_id=job_id,
            conn_id=openreplay_conn_id,
            deferrable=deferrable,
            poke_interval=poke_interval,
            start_from_trigger=start_from_trigger,
            trigger_fields={"project_key": project_key},
            **kwargs,
        )

    def validate_id(self, value: Any) -> int:
        return require_positive_int("job_id", value)

    def fetch_kwargs(self) -> dict[str, Any]:
        return {"project_key": self.project_key or None}

"""The one state model every sensor, trigger and waiting operator works with (SPEC §3).

Each hook maps its service's raw status onto :class:`RemoteState` and returns a :class:`TaskSnapshot`;
nothing outside the hooks ever looks at a raw status value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RemoteState", "TaskSnapshot", "map_status"]


class RemoteState(enum.StrEnum):
    """Normalized status of a remote background task or job."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (RemoteState.SUCCEEDED, RemoteState.FAILED, RemoteState.CANCELLED)


@dataclass(frozen=True)
class TaskSnapshot:
    """What one status read told us about a remote task.

    :param service: display name of the service.
    :param item_id: the id as the service knows it (str or int).
    :param state: the normalized state.
    :param raw: the remote object as the service returned it (JSON-serializable).
    :param progress: percent done, when the service reports it (Mobizon).
    :param message: the service's failure details for a failure terminal, if any.
    :param complete: False when ``raw`` is a list item, short of what the status call returns; the
        task that resumes from such a terminal snapshot reads the full object once (see
        :func:`~airflow_provider_tasks.waits.events.complete_event`).
    :param remote_status: the status in the service's own words (``"scheduled"``,
        ``'task_status 2 "in progress"'``), shown next to the normalized state in logs.
    """

    service: str
    item_id: str | int
    state: RemoteState
    raw: Mapping[str, Any] = field(default_factory=dict)
    progress: int | None = None
    message: str | None = None
    complete: bool = True
    remote_status: str | None = None

    def describe(self) -> str:
        text = f"{self.service} {self.item_id}: {self.state.value}"
        if self.remote_status is not None:
            text += f" ({self.service}: {self.remote_status})"
        if self.progress is not None:
            text += f", progress {self.progress}%"
        return text


def map_status(service: str, item_id: object, value: object, table: Mapping[Any, RemoteState]) -> RemoteState:
    """Look ``value`` up in ``table``; an unknown value is an error naming it, never success."""
    from airflow_provider_tasks.exceptions import RemoteApiError

    try:
        return table[value]
    except (KeyError, TypeError):
        raise RemoteApiError(
            service, f"unknown status value {value!r} (known: {sorted(map(str, table))})", item_id=item_id
        ) from None

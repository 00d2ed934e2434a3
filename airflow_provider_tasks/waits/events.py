"""Events: how a wait ends, as a JSON-native dict, and how an event turns back into a value or an error.

Poke mode, reschedule mode, the trigger and the operators' blocking waits all produce the same event
from the same snapshot (:func:`event_from_snapshot`, :func:`error_event`, :func:`timeout_event`), and
all end through :func:`resolve_event`, so every mode returns the same value or raises the same error.
A trigger event is such a dict, so it crosses the metadata database unchanged.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_tasks import exceptions
from airflow_provider_tasks.exceptions import (
    RemoteApiError,
    RemoteError,
    RemoteTaskFailed,
    RemoteTransientError,
)
from airflow_provider_tasks.redaction import redact
from airflow_provider_tasks.states import RemoteState, TaskSnapshot

if TYPE_CHECKING:
    from airflow_provider_tasks.hooks.base import RemoteTaskHook

__all__ = [
    "EVENT_STATUSES",
    "WaitTimeout",
    "complete_event",
    "error_event",
    "event_from_snapshot",
    "jsonable",
    "resolve_event",
    "timeout_event",
]

#: The ``status`` values an event may carry.
EVENT_STATUSES = frozenset({"success", "failed", "error", "timeout"})


def jsonable(value: Any) -> Any:
    """Copy ``value`` into JSON-native types (aware datetimes become ISO 8601 strings with offset)."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def event_from_snapshot(snapshot: TaskSnapshot) -> dict[str, Any] | None:
    """The event a snapshot ends the wait with, or ``None`` while it is not terminal."""
    if not snapshot.state.is_terminal:
        return None
    event = {
        "status": "success" if snapshot.state is RemoteState.SUCCEEDED else "failed",
        "service": snapshot.service,
        "id": snapshot.item_id,
        "state": snapshot.state.value,
        "message": snapshot.message,
        "remote": jsonable(snapshot.raw),
    }
    if not snapshot.complete:
        event["partial"] = True
    return event


def complete_event(
    hook: RemoteTaskHook, event: Any, item_id: str | int, fetch_kwargs: Mapping[str, Any] | None = None
) -> Any:
    """Replace a *partial* terminal event (read from a list, e.g. without Post-e-Ketab's ``task_result``)
    by the event of one full read of the task; any other event is returned as it is.

    The triggers' pollers learn that a task ended from a list endpoint; the one full read then
    happens in the resumed task, so a round of many finishing tasks is not held up by their
    details, and large results never travel through the metadata database inside an event.
    """
    if not (
        isinstance(event, Mapping)
        and event.get("partial") is True
        and event.get("status") in ("success", "failed")
        and str(event.get("id")) == str(item_id)
    ):
        return event
    hook.log.info("%s %s ended %s; reading it in full", hook.service_name, item_id, event.get("state"))
    snapshot = hook.get_snapshot(item_id, **dict(fetch_kwargs or {}))
    full = event_from_snapshot(snapshot)
    if full is None:  # the service's list ran ahead of its detail: a retry of the task will see it agree
        raise RemoteTransientError(
            hook.service_name,
            f"the list shows the task {event.get('state')}, but reading it says {snapshot.state.value}",
            item_id=item_id,
        )
    return {**event, **full, "partial": False}


def error_event(service: str, item_id: str | int, error: BaseException) -> dict[str, Any]:
    """An event carrying an error, rebuilt as the same exception class by :func:`resolve_event`."""
    remote = error if isinstance(error, RemoteError) else None
    return {
        "status": "error",
        "service": service,
        "id": item_id,
        "error_type": type(error).__name__,
        "code": remote.code if remote else None,
        "message": redact(str(remote.remote_message if remote else error)),
        "hint": remote.hint if remote else None,
    }


def timeout_event(
    snapshot: TaskSnapshot | None, service: str, item_id: str | int, *, limit: str = "timeout"
) -> dict[str, Any]:
    """The event of a wait whose deadline passed; ``limit`` names which one (``timeout`` or
    ``execution_timeout``), so the task reports the error that limit means."""
    last = snapshot.describe() if snapshot else "no successful read"
    return {
        "status": "timeout",
        "service": service,
        "id": item_id,
        "limit": limit,
        "message": f"not finished before the wait's {limit} (last seen: {last})",
        "state": snapshot.state.value if snapshot else None,
    }


_ERROR_TYPES: dict[str, type[RemoteError]] = {
    cls.__name__: cls
    for cls in (
        exceptions.RemoteTaskNotFound,
        exceptions.RemoteAuthError,
        exceptions.RemoteApiError,
        exceptions.RemoteTransientError,
        exceptions.RemoteTaskFailed,
    )
}


class WaitTimeout(Exception):
    """Raised by :func:`resolve_event` for a timeout event; ``limit`` is the deadline that passed
    (``timeout`` or ``execution_timeout``). :func:`~airflow_provider_tasks.waits.policy.outcome` maps it
    to Airflow's own timeout error."""

    def __init__(self, message: str, limit: str = "timeout") -> None:
        super().__init__(message)
        self.limit = limit


def resolve_event(event: Any, service: str, item_id: str | int) -> dict[str, Any]:
    """End a wait: return the final remote object, or raise what the event says.

    Anything that is not a well-formed event for this very task fails: a wait can never succeed
    silently. ``RemoteTaskFailed`` carries the final remote object in ``details``.
    """
    if not isinstance(event, Mapping) or event.get("status") not in EVENT_STATUSES:
        raise RemoteApiError(service, f"invalid resume event {event!r}", item_id=item_id)
    if str(event.get("id")) != str(item_id):
        raise RemoteApiError(service, f"resume event is for id {event.get('id')!r}", item_id=item_id)
    status = event["status"]
    if status == "success":
        remote = event.get("remote")
        if not isinstance(remote, Mapping):
            raise RemoteApiError(service, f"success event without the remote object: {event!r}", item_id=item_id)
        return dict(remote)
    if status == "failed":
        message = event.get("message") or f"ended {event.get('state')}"
        raise RemoteTaskFailed(service, message, item_id=item_id, code=event.get("state"), details=event.get("remote"))
    if status == "timeout":
        limit = "execution_timeout" if event.get("limit") == "execution_timeout" else "timeout"
        raise WaitTimeout(f"{service} {item_id}: {event.get('message')}", limit)
    error_cls = _ERROR_TYPES.get(str(event.get("error_type")), RemoteApiError)
    raise error_cls(service, event.get("message"), item_id=item_id, code=event.get("code"), hint=event.get("hint"))

"""The blocking wait: the waiting operators' loop when they do not defer (the worker slot waits)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_tasks.exceptions import RemoteError

if TYPE_CHECKING:
    from airflow_provider_tasks.hooks.base import RemoteTaskHook
    from airflow_provider_tasks.states import TaskSnapshot
    from airflow_provider_tasks.waits.policy import Wait

__all__ = ["poll_until_done"]


def poll_until_done(
    hook: RemoteTaskHook,
    wait: Wait,
    *,
    poll_interval: float,
    fetch_kwargs: Mapping[str, Any] | None = None,
    first: TaskSnapshot | None = None,
) -> dict[str, Any]:
    """Poll until ``wait`` ends and return its final event (remote errors become error events, so the
    caller ends every wait in one place: :func:`~airflow_provider_tasks.waits.policy.outcome`)."""
    result: TaskSnapshot | BaseException | None = first
    while True:
        if result is None:
            try:
                result = hook.get_snapshot(wait.item_id, **dict(fetch_kwargs or {}))
            except (RemoteError, ValueError) as error:
                result = error
        event = wait.observe(result) or wait.expired()
        if event is not None:
            return event
        time.sleep(wait.pause(poll_interval))
        result = None

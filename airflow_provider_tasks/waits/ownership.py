"""When a trigger may cancel the remote job its task created: only when the task was really stopped.

Airflow 3.3 calls a trigger's ``on_kill`` when a user acts on its task (mark failed, clear), but its
triggerer also cancels "as a user action" every trigger it no longer owns, which is what a
triggerer sees after a failover: frozen past ``[triggerer] triggerer_health_check_threshold``, it
resumes to find its triggers adopted by another triggerer (``update_triggers`` → ``cancel_triggers``).
So before cancelling, ask Airflow for the task instance's state (the pattern of the Google provider's
Dataproc trigger, ``safe_to_cancel``): still ``deferred`` means the trigger was moved, not killed.
In doubt (no task instance, an Airflow that cannot tell, an error asking), do not cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["STOPPED_STATES", "Verdict", "may_cancel_owned_job"]

#: Task instance states that mean a user (or Airflow) stopped the wait: cancelling the job is wanted.
#: ``None`` is a cleared task not yet scheduled again. Every other state keeps the job: ``deferred``
#: (the trigger moved to another triggerer), ``scheduled``/``queued``/``running`` (the task resumes,
#: or a new try adopts the job), ``success``.
STOPPED_STATES = frozenset({None, "failed", "upstream_failed", "skipped", "removed", "up_for_retry", "restarting"})

_STATE_TIMEOUT = 20.0


@dataclass(frozen=True)
class Verdict:
    """Whether the owned job may be cancelled, and why (logged either way)."""

    cancel: bool
    reason: str


def _state_of(states: Mapping[str, Any], run_id: str, task_id: str, map_index: int | None) -> Any:
    run = states.get(run_id) or {}
    key = task_id if map_index is None or map_index < 0 else f"{task_id}_{map_index}"
    if key not in run:
        raise LookupError(f"Airflow returned no state for {key!r} in run {run_id!r}")
    state = run[key]
    return getattr(state, "value", state)


async def may_cancel_owned_job(task_instance: Any) -> Verdict:
    """Ask Airflow whether the task behind a trigger was stopped (see the module docstring)."""
    if task_instance is None:
        return Verdict(False, "the trigger does not know its task instance")
    try:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    except ImportError:
        return Verdict(False, "this Airflow version cannot tell the task's state from a trigger")
    dag_id, task_id, run_id = task_instance.dag_id, task_instance.task_id, task_instance.run_id
    map_index = getattr(task_instance, "map_index", None)
    try:
        states = await asyncio.wait_for(
            asyncio.to_thread(
                RuntimeTaskInstance.get_task_states,
                dag_id=dag_id,
                task_ids=[task_id],
                run_ids=[run_id],
                map_index=map_index if map_index is not None and map_index >= 0 else None,
            ),
            _STATE_TIMEOUT,
        )
        state = _state_of(states, run_id, task_id, map_index)
    except Exception as error:
        return Verdict(False, f"could not read the task's state ({type(error).__name__}: {error})")
    if state in STOPPED_STATES:
        return Verdict(True, f"its task is now {state or 'cleared'}")
    return Verdict(False, f"its task is still {state}: the trigger was moved or finished, not killed")

"""Starting a wait in the triggerer (``start_from_trigger``, Airflow 3.3+), and saying so when it cannot.

A deferrable wait normally costs two worker launches: one that checks and defers, one that resumes.
With ``start_from_trigger=True`` Airflow's scheduler creates the trigger itself from the task's
``start_trigger_args`` and the triggerer renders the task's templated fields into it
(apache/airflow#55068), so one launch remains: the resume, which validates the event as always.

Where Airflow cannot honour it the wait defers from a worker as usual, and the task's log says why,
once, when ``execute()`` runs (which it then does):

- Airflow before 3.3 does not render templates in the triggerer (3.1-3.2 ignore the flag): the
  task never asks (decided when the DAG is parsed);
- a value the triggerer cannot receive (an ``XComArg`` or another object, not a literal or a Jinja
  string): the same;
- mapped task instances always start in a worker (apache/airflow#52141). This is why the classes
  keep ``start_trigger_args = None``: a mapped task would otherwise start from class-level arguments
  without its kwargs;
- ``airflow dags test`` / ``tasks test`` run every task in their own process.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_tasks.waits.policy import DEFERRAL_BACKSTOP

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = [
    "DEFERRAL_LEAD",
    "MIN_AIRFLOW",
    "StartFromTrigger",
    "airflow_reason",
    "airflow_timeout",
    "crossed_event",
    "unstartable_value",
]

#: The first Airflow that renders a task's templates in the triggerer (apache/airflow#55068).
MIN_AIRFLOW = (3, 3)
#: ``next_method`` of a task that starts in the triggerer: the resume every mode already has.
NEXT_METHOD = "execute_complete"
#: Seconds the trigger's own deadline comes at least before Airflow's deferral timeout.
DEFERRAL_LEAD = 5.0
#: ``next_method`` of a task Airflow resumes only to fail it.
_TRIGGER_FAIL = "__fail__"


def airflow_timeout(timeout: float | None, execution_timeout: float | None) -> float:
    """Seconds after the deferral at which Airflow ends a task started in the triggerer: its
    ``start_trigger_args.timeout`` (the wait's ``timeout`` plus the backstop) or the task's
    ``execution_timeout``, whichever is first (Airflow folds the latter in when it defers the task)."""
    spans = [float(timeout) + DEFERRAL_BACKSTOP] if timeout is not None else []
    spans += [float(execution_timeout)] if execution_timeout is not None else []
    return min(spans)


def crossed_event(next_method: str, next_kwargs: Any) -> Any:
    """The trigger's event when Airflow's deferral timeout and that event crossed: the scheduler set
    ``next_method="__fail__"`` while the triggerer wrote the event over the error in ``next_kwargs``
    (seen on Airflow 3.3.2 when both fired within a second); None otherwise. The event decides then."""
    if next_method != _TRIGGER_FAIL or not isinstance(next_kwargs, Mapping) or "error" in next_kwargs:
        return None
    return next_kwargs.get("event")


def _airflow_version() -> tuple[int, int]:
    from airflow import __version__

    major, minor, *_ = (int("".join(ch for ch in part if ch.isdigit()) or 0) for part in __version__.split("."))
    return major, minor


def airflow_reason(version: tuple[int, int] | None = None) -> str | None:
    """Why this Airflow cannot start the task in the triggerer, or None when it can."""
    found = version or _airflow_version()
    if found >= MIN_AIRFLOW:
        return None
    return (
        f"Airflow {found[0]}.{found[1]} does not render templates in the triggerer (Airflow 3.3+ does, "
        "apache/airflow#55068)"
    )


def unstartable_value(values: Mapping[str, Any]) -> str | None:
    """Why one of the trigger's values cannot travel to the triggerer, or None when all can."""
    for name, value in values.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            return f"{name} is a {type(value).__name__}, which only a worker resolves"
    return None


class StartFromTrigger:
    """What a sensor or waiting operator adds for ``start_from_trigger``.

    :meth:`offer_start_from_trigger` (from ``__init__``) replaces this instance's ``start_trigger_args``
    (the class-level value, Airflow's ``None``, is never touched); :meth:`log_start_fallback` (from
    ``execute()``, which a task started in the triggerer never runs) logs why it was not honoured.
    """

    #: The user asked for ``start_from_trigger=True`` (``start_from_trigger`` says whether Airflow will).
    start_from_trigger_asked: bool = False
    _start_fallback: str | None = None
    if TYPE_CHECKING:  # BaseOperator's, which the classes using this also derive from
        start_from_trigger: bool
        start_trigger_args: Any
        log: Any

    def offer_start_from_trigger(
        self,
        asked: bool,
        *,
        trigger_class: type,
        trigger_kwargs: Mapping[str, Any],
        timeout: float | None,
    ) -> None:
        """Start this task in the triggerer if ``asked`` and Airflow can. ``timeout`` (seconds) is the
        wait's; Airflow's own deferral timeout is set :data:`~airflow_provider_tasks.waits.policy.DEFERRAL_BACKSTOP`
        later, so the trigger's timeout event comes first (:func:`airflow_timeout`)."""
        self.start_from_trigger_asked = bool(asked)
        if not asked:
            return
        reason = airflow_reason() or unstartable_value(trigger_kwargs)
        if reason is not None:
            self._start_fallback = reason
            return
        from airflow.triggers.base import StartTriggerArgs

        self.start_from_trigger = True
        self.start_trigger_args = StartTriggerArgs(
            trigger_cls=f"{trigger_class.__module__}.{trigger_class.__qualname__}",
            next_method=NEXT_METHOD,
            trigger_kwargs=dict(trigger_kwargs),
            next_kwargs=None,
            timeout=None if timeout is None else datetime.timedelta(seconds=float(timeout) + DEFERRAL_BACKSTOP),
        )

    def start_fallback_reason(self, context: Context) -> str:
        """Why ``execute()`` runs although the task asked to start in the triggerer."""
        if self._start_fallback is not None:
            return self._start_fallback
        map_index = getattr(context.get("ti"), "map_index", -1)  # type: ignore[misc]
        if isinstance(map_index, int) and map_index >= 0:
            return "Airflow starts mapped task instances in a worker (apache/airflow#52141)"
        return "Airflow ran the task in a worker (as `airflow dags test` and `airflow tasks test` do)"

    def log_start_fallback(self, context: Context) -> None:
        """One log line when the task asked to start in the triggerer but runs in a worker."""
        if self.start_from_trigger_asked:
            self.log.warning(
                "start_from_trigger=True not honoured: %s; checking here, then deferring as usual",
                self.start_fallback_reason(context),
            )

"""Where Airflow 2.11 and Airflow 3 differ beyond what ``airflow.providers.common.compat`` covers.

Each difference is resolved here, once, without a version check: the same code runs on both.

- Airflow 2.11's ``ProvidersManager`` takes a hook's connection form (``get_connection_form_widgets``,
  ``get_ui_field_behaviour``) only from the hook class's *own* ``__dict__``, never from a base class;
  :func:`expose_connection_form` gives each service hook its own copy. (Airflow 3.2+ reads the
  ``conn-fields`` and ``ui-field-behaviour`` of the provider info instead and never calls them.)
- When Airflow itself ends a deferral at its timeout, the resumed task gets ``next_method="__fail__"``
  and an error that Airflow 3 spells ``"Trigger timeout"`` (and turns into ``AirflowSensorTimeout`` for
  sensors) and Airflow 2.11 spells ``"Trigger/execution timeout"`` (and raises a retryable
  ``TaskDeferralError``): :func:`deferral_timeout_error` recognises both.
- A rescheduled sensor's first start: Airflow 3 asks the task instance
  (``ti.get_first_reschedule_date(context)``), Airflow 2.11's sensor base looks it up in the metadata
  database itself; :func:`first_reschedule_date` does what each version's own sensor loop does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CONNECTION_FORM_METHODS", "deferral_timeout_error", "expose_connection_form", "first_reschedule_date"]

#: The hook classmethods Airflow 2.11's UI reads the connection form from.
CONNECTION_FORM_METHODS = ("get_connection_form_widgets", "get_ui_field_behaviour")

#: ``next_method`` of a task Airflow resumes only to fail it (same value on 2.11 and 3.x).
_TRIGGER_FAIL = "__fail__"
#: ``next_kwargs["error"]`` when the deferral timed out: Airflow 3's and Airflow 2.11's spelling.
_DEFERRAL_TIMEOUT_ERRORS = frozenset({"Trigger timeout", "Trigger/execution timeout"})


def expose_connection_form(hook_class: type, base: type) -> None:
    """Copy ``base``'s connection-form classmethods into ``hook_class``'s own dict (unless it has its own)."""
    for name in CONNECTION_FORM_METHODS:
        if name not in vars(hook_class):
            setattr(hook_class, name, classmethod(vars(base)[name].__func__))


def deferral_timeout_error(next_method: str, next_kwargs: Mapping[str, Any] | None) -> str | None:
    """The error text when Airflow resumes a task because its deferral timed out, else ``None``."""
    if next_method != _TRIGGER_FAIL:
        return None
    error = (next_kwargs or {}).get("error")
    if isinstance(error, str) and error in _DEFERRAL_TIMEOUT_ERRORS:
        return str.__str__(error)  # the plain text, also when Airflow passes its str-based enum
    return None


def first_reschedule_date(context: Mapping[str, Any], retries: int | None) -> Any:
    """When the first try of this reschedule series started (None on its first run)."""
    ti = context["ti"]
    if hasattr(ti, "get_first_reschedule_date"):
        return ti.get_first_reschedule_date(context)
    import importlib

    from airflow.providers.common.compat.sdk import BaseSensorOperator

    sensor_module = importlib.import_module(BaseSensorOperator.__module__)  # Airflow 2.11
    first_try_number = (ti.max_tries or 0) - (retries or 0) + 1
    return sensor_module._orig_start_date(
        dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, map_index=ti.map_index, try_number=first_try_number
    )

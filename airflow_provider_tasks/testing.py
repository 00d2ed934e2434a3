"""Test doubles for unit tests and benchmarks of code that calls our operators and sensors directly.

Nothing in the provider imports this module; it is here so that your tests (and ours) can run an
operator's or sensor's ``execute``/``poke`` without an Airflow metadata database::

    from airflow_provider_tasks.testing import FakeTaskInstance

    ti = FakeTaskInstance()
    result = operator.execute({"ti": ti})
    ti.xcom  # what it pushed besides the return value (the extra links' URLs)
"""

from __future__ import annotations

from typing import Any

__all__ = ["FakeTaskInstance", "FakeTaskStateStore"]


class FakeTaskInstance:
    """The few TaskInstance methods our operators and sensors call, recording what they push.

    Use it as ``{"ti": FakeTaskInstance()}``. Airflow 2.11's reschedule mode reads the identity
    attributes below (and looks the first try's start date up in the metadata DB instead of calling
    ``get_first_reschedule_date``).
    """

    dag_id = "test_dag"
    task_id = "test_task"
    run_id = "test_run"
    map_index = -1
    max_tries = 0
    try_number = 1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}
        self.first_reschedule_date: Any = None
        #: When this try started; ``execution_timeout`` counts from here.
        self.start_date: Any = None

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", **_: Any) -> Any:
        """What this task instance pushed under ``key`` (other tasks' XComs are not modelled)."""
        return self.xcom.get(key)

    def get_first_reschedule_date(self, context: Any) -> Any:
        return self.first_reschedule_date


class FakeTaskStateStore:
    """Airflow 3.3's ``context["task_state_store"]`` in memory: what survives a task's reschedules.

    Use it as ``{"ti": FakeTaskInstance(), "task_state_store": FakeTaskStateStore()}`` to run a sensor's
    reschedule mode the way Airflow 3.3 does (a new sensor instance per try, one store for all).
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)

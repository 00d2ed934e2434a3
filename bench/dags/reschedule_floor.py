"""DAGs of ``python -m bench.reschedule_floor``: Airflow's own ``PythonSensor`` in reschedule mode, one DAG
per ``poke_interval`` measured, each with several sensors that succeed on their third poke.

A plain Airflow sensor, not ours: what is measured is Airflow's race (apache/airflow#71172), which sets
the floor ``RESCHEDULE_MIN_INTERVAL`` our sensors keep in reschedule mode.
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.common.compat.sdk import DAG
from airflow.providers.standard.sensors.python import PythonSensor

INTERVALS = [float(value) for value in os.environ.get("RESCHEDULE_FLOOR_INTERVALS", "5,8,15").split(",")]
SENSORS = int(os.environ.get("RESCHEDULE_FLOOR_SENSORS", "4"))


def _third_poke(interval: float, **context: object) -> bool:
    """True once the run is older than 2.5 intervals: the first two pokes reschedule."""
    started = context["dag_run"].start_date  # type: ignore[attr-defined]
    return bool((pendulum.now("UTC") - started).total_seconds() > 2.5 * interval)


for interval in INTERVALS:
    with DAG(
        dag_id=f"reschedule_floor_{interval:g}",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["bench"],
    ):
        for number in range(SENSORS):
            PythonSensor(
                task_id=f"sensor_{number}",
                python_callable=_third_poke,
                op_kwargs={"interval": interval},
                mode="reschedule",
                poke_interval=interval,
                timeout=600,
                retries=0,
            )

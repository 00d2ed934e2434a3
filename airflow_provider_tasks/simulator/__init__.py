"""A local stand-in for the Post-e-Ketab, OpenReplay and Mobizon APIs.

Use it to run DAGs, tests and benchmarks with no account and no internet::

    from airflow_provider_tasks.simulator import Simulator, Step

    with Simulator() as sim:
        task_id = sim.posteketab.add_task(steps=[Step(0, polls=2), Step(3)])
        os.environ.update(sim.env())     # AIRFLOW_CONN_POSTEKETAB_DEFAULT etc. point at it
        ...

or from a shell: ``python -m airflow_provider_tasks.simulator --port 8765 --scenario demo``.
In pytest, the ``provider_tasks_simulator`` fixture yields a started one, once your root conftest has
``pytest_plugins = ["airflow_provider_tasks.simulator.pytest_plugin"]``. :class:`Simulator` is
imported lazily so that importing this package (and the pytest plugin) does not import aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_tasks.simulator.core import FAULT_KINDS, SERVICES, Fault, RequestRecord, Step

if TYPE_CHECKING:
    from airflow_provider_tasks.simulator.server import Simulator

__all__ = ["FAULT_KINDS", "SERVICES", "Fault", "RequestRecord", "Simulator", "Step"]


def __getattr__(name: str) -> Any:
    if name == "Simulator":
        from airflow_provider_tasks.simulator.server import Simulator

        return Simulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

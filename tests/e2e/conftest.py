"""What the end-to-end modules share: one production-shaped deployment for the session.

Booting it (PostgreSQL, Redis, six Airflow processes) costs a minute or two on two cores, so the
first module that asks for it boots it and the next one finds it running; each module still stands on
its own, runs alone or in any order, and leaves the deployment as it found it (its runs ended).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_tasks.simulator import Simulator

from .deployment import DAGS, E2E_DAGS, free_port
from .stacks import PRODUCTION, Production, deployed


@pytest.fixture(scope="session")
def production() -> Iterator[Production]:
    """The production-shaped deployment with the example DAGs and the fault DAG, and its simulator."""
    # A fixed port: the connections in the deployment's environment stay valid when a test restarts it.
    sim = Simulator(port=free_port())
    with sim, deployed(PRODUCTION, sim.env(), dag_folders=(DAGS, E2E_DAGS)) as stack:
        yield Production(sim, stack)

"""pytest fixtures that serve the simulated APIs. Opt in from your root ``conftest.py``::

    pytest_plugins = ["airflow_provider_tasks.simulator.pytest_plugin"]

Installing the provider registers nothing with pytest: the fixtures exist only where this line is.

``provider_tasks_simulator``
    a started :class:`~airflow_provider_tasks.simulator.Simulator` per test, stopped afterwards.
    Its constructor kwargs come from the ``provider_tasks_simulator_kwargs`` fixture, which a test
    module or conftest can override, e.g. to switch Mobizon's one-call-per-second limit off::

        @pytest.fixture
        def provider_tasks_simulator_kwargs():
            return {"mobizon_rate_limit": None}

    ``provider_tasks_simulator.env()`` holds the ``AIRFLOW_CONN_*`` variables that point the
    default connections at it (set them with ``monkeypatch.setenv``).

``provider_tasks_simulator_session``
    one simulator shared by the whole session (default settings): call ``reset()`` between uses.

aiohttp is imported only when a fixture is used, so loading the plugin costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_tasks.simulator.server import Simulator

__all__ = ["provider_tasks_simulator", "provider_tasks_simulator_kwargs", "provider_tasks_simulator_session"]


@pytest.fixture
def provider_tasks_simulator_kwargs() -> dict[str, Any]:
    """Keyword arguments for the ``provider_tasks_simulator`` fixture's :class:`Simulator` (override to change)."""
    return {}


@pytest.fixture
def provider_tasks_simulator(provider_tasks_simulator_kwargs: dict[str, Any]) -> Iterator[Simulator]:
    """A started simulator on a free port, stopped after the test."""
    from airflow_provider_tasks.simulator.server import Simulator

    with Simulator(**provider_tasks_simulator_kwargs) as sim:
        yield sim


@pytest.fixture(scope="session")
def provider_tasks_simulator_session() -> Iterator[Simulator]:
    """A simulator shared by the whole test session (state persists: ``reset()`` it as needed)."""
    from airflow_provider_tasks.simulator.server import Simulator

    with Simulator() as sim:
        yield sim

"""pytest fixtures that serve the simulated APIs (registered through the ``pytest11`` entry point).

``simulator``
    a started :class:`~airflow_provider_tasks.simulator.Simulator` per test, stopped afterwards.
    Its constructor kwargs come from the ``simulator_kwargs`` fixture, which a test module or
    conftest can override, e.g. to switch Mobizon's one-call-per-second limit off::

        @pytest.fixture
        def simulator_kwargs():
            return {"mobizon_rate_limit": None}

``simulator_session``
    one simulator shared by the whole session (default settings): call ``reset()`` between uses.

aiohttp is imported only when a fixture is used, so loading the plugin costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_tasks.simulator.server import Simulator

__all__ = ["simulator", "simulator_kwargs", "simulator_session"]


@pytest.fixture
def simulator_kwargs() -> dict[str, Any]:
    """Keyword arguments for the ``simulator`` fixture's :class:`Simulator` (override to change)."""
    return {}


@pytest.fixture
def simulator(simulator_kwargs: dict[str, Any]) -> Iterator[Simulator]:
    """A started simulator on a free port, stopped after the test."""
    from airflow_provider_tasks.simulator.server import Simulator

    with Simulator(**simulator_kwargs) as sim:
        yield sim


@pytest.fixture(scope="session")
def simulator_session() -> Iterator[Simulator]:
    """A simulator shared by the whole test session (state persists: ``reset()`` it as needed)."""
    from airflow_provider_tasks.simulator.server import Simulator

    with Simulator() as sim:
        yield sim

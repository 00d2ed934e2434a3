"""The two shapes of deployment the end-to-end tests run, each with the servers it stands on.

``quick``
    SQLite, the LocalExecutor, one triggerer: nothing but Airflow itself.
``production``
    PostgreSQL as the metadata database, the CeleryExecutor with Redis as broker and a Celery
    worker, and two triggerers (Debian's ``postgresql`` and ``redis-server``; ``.ci/run`` installs
    them, elsewhere the tests that need them are skipped saying so).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_tasks.simulator import Simulator

from .deployment import DAGS, Deployment
from .services import Postgres, Redis, missing_servers, running

__all__ = ["PRODUCTION", "QUICK", "SHAPES", "Production", "Stack", "deployed"]

QUICK = "quick"
PRODUCTION = "production"
SHAPES = (QUICK, PRODUCTION)

#: Failure detection of the production shape, short enough for a test to outwait it in seconds:
#: a triggerer silent for 15 s (it heartbeats every 2 s) loses its triggers to the other one, and a
#: task whose worker stopped heartbeating (every 5 s) for 30 s is failed and retried by the scheduler.
PRODUCTION_ENV = {
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "15",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
}


@dataclass
class Stack:
    """A booted deployment and, in the production shape, its database and broker."""

    deployment: Deployment
    postgres: Postgres | None = None
    redis: Redis | None = None

    def server_logs(self) -> list[Path]:
        """The logs of PostgreSQL and Redis (copied next to the component logs when the stack stops)."""
        return [server.log for server in (self.postgres, self.redis) if server is not None and server.log.exists()]


@dataclass
class Production:
    """A production-shaped stack and the simulator its connections point at (the session's: conftest)."""

    sim: Simulator
    stack: Stack


@contextmanager
def deployed(shape: str, connections: Mapping[str, str], *, dag_folders: Sequence[Path] = (DAGS,)) -> Iterator[Stack]:
    """Boot a deployment of ``shape``; stop every process and server it started however the block ends."""
    home = Path(tempfile.mkdtemp(prefix=f"airflow-e2e-{shape}-"))
    if shape == QUICK:
        deployment = Deployment(home, connections, dag_folders=dag_folders)
        try:
            deployment.boot()
            yield Stack(deployment)
        finally:
            deployment.stop()
        return
    if shape != PRODUCTION:
        raise ValueError(f"unknown deployment shape {shape!r}; expected one of {SHAPES}")
    if missing := missing_servers():
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install {' '.join(missing)}): production e2e skipped")
    postgres, redis = Postgres(), Redis()
    deployment = Deployment(
        home,
        connections,
        PRODUCTION_ENV,
        database_url=postgres.url,
        broker_url=redis.url,
        triggerers=2,
        dag_folders=dag_folders,
    )
    with ExitStack() as cleanup:
        cleanup.callback(_keep_logs_and_remove, deployment.logs, postgres, redis)
        cleanup.enter_context(running(postgres, redis))
        cleanup.callback(deployment.stop)
        deployment.boot()
        yield Stack(deployment, postgres, redis)


def _keep_logs_and_remove(logs: Path, *servers: Postgres | Redis) -> None:
    for server in servers:
        if server.log.exists():
            shutil.copy(server.log, logs / server.log.name)
        server.remove()

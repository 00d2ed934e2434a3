"""Fixtures of the simulator tests: the plugin's simulator under a short name, and small HTTP clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_tasks.simulator.server import Simulator


@pytest.fixture
def provider_tasks_simulator_kwargs() -> dict[str, Any]:
    """Mobizon's one-GetStatus-per-second limit would slow every test down: on only where tested."""
    return {"mobizon_rate_limit": None}


@pytest.fixture
def simulator(provider_tasks_simulator: Simulator) -> Simulator:
    """The plugin's ``provider_tasks_simulator`` (the root conftest loads the plugin), without env vars."""
    return provider_tasks_simulator


class PostEKetab:
    """``POST task/detail/`` and ``task/list/`` of a simulator."""

    def __init__(self, sim: Simulator, http: requests.Session) -> None:
        self.sim, self.http = sim, http

    def headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"JWT {self.sim.posteketab_token if token is None else token}"}

    def detail(self, task_id: Any, token: str | None = None) -> requests.Response:
        return self.http.post(
            f"{self.sim.posteketab_url}/task/detail/", json={"task_id": task_id}, headers=self.headers(token)
        )

    def status(self, task_id: str) -> int:
        return int(self.detail(task_id).json()["entries"]["task_status"])

    def list(self, count: int = 10, page: int = 1, token: str | None = None) -> requests.Response:
        return self.http.post(
            f"{self.sim.posteketab_url}/task/list/", json={"count": count, "page": page}, headers=self.headers(token)
        )


class OpenReplay:
    """The jobs routes of a simulator, authenticated with its key unless told otherwise."""

    def __init__(self, sim: Simulator, http: requests.Session) -> None:
        self.sim, self.http = sim, http

    def call(
        self, method: str, route: str, key: str | None = None, params: dict[str, Any] | None = None
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.sim.openreplay_api_key if key is None else key}"}
        return self.http.request(method, f"{self.sim.openreplay_url}/public/{route}", headers=headers, params=params)

    def job(self, job_id: Any, project: str = "simproject") -> requests.Response:
        return self.call("GET", f"{project}/jobs/{job_id}")

    def status(self, job_id: int) -> str:
        return str(self.job(job_id).json()["data"]["status"])

    def cancel(self, job_id: Any) -> requests.Response:
        return self.call("DELETE", f"simproject/jobs/{job_id}")

    def delete_user(self, user_id: str) -> requests.Response:
        return self.call("DELETE", f"simproject/users/{user_id}")

    def jobs(self, **params: Any) -> requests.Response:
        return self.call("GET", "simproject/jobs", params=params)


class Mobizon:
    """``TaskQueue/GetStatus`` of a simulator."""

    def __init__(self, sim: Simulator, http: requests.Session) -> None:
        self.sim, self.http = sim, http

    def call(
        self,
        route: str = "taskqueue/getstatus",
        data: dict[str, Any] | None = None,
        key: str | None = None,
        base: str | None = None,
    ) -> requests.Response:
        params = {"output": "json", "api": "v1", "apiKey": self.sim.mobizon_api_key if key is None else key}
        return self.http.post(f"{base or self.sim.mobizon_url}/service/{route}", params=params, data=data or {})

    def get_status(self, task_id: Any, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.call(data={"id": task_id}, **kwargs).json()
        return body


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def posteketab(simulator: Simulator, http: requests.Session) -> PostEKetab:
    return PostEKetab(simulator, http)


@pytest.fixture
def openreplay(simulator: Simulator, http: requests.Session) -> OpenReplay:
    return OpenReplay(simulator, http)


@pytest.fixture
def mobizon(simulator: Simulator, http: requests.Session) -> Mobizon:
    return Mobizon(simulator, http)

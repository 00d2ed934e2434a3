"""The simulator in a process of its own (so its CPU is never the client's), scripted through ``/_sim``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["ControlCall", "SimulatorProcess", "running_simulator"]

_READY = "simulator ready on "
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 10.0
#: Concurrent control calls of the driver (marking thousands of items terminal).
CONTROL_CONCURRENCY = 4


@dataclass(frozen=True)
class ControlCall:
    """When a control call was sent (``sent``) and answered (``answered``), both ``time.monotonic()``."""

    sent: float
    answered: float
    answer: Any


class SimulatorProcess:
    """A running ``python -m airflow_provider_tasks.simulator`` and a client of its control API."""

    def __init__(self, url: str, env: Mapping[str, str], session: aiohttp.ClientSession) -> None:
        self.url = url
        #: ``AIRFLOW_CONN_*`` variables pointing the default connections at this simulator.
        self.env = dict(env)
        self._session = session

    def connection(self, conn_id: str) -> dict[str, Any]:
        """The JSON form of one of the simulator's default connections."""
        return dict(json.loads(self.env[f"AIRFLOW_CONN_{conn_id.upper()}"]))

    async def _call(self, method: str, path: str, body: Any = None) -> ControlCall:
        sent = time.monotonic()
        async with self._session.request(method, f"{self.url}/_sim/{path}", json=body) as response:
            answer = await response.json(content_type=None)
            answered = time.monotonic()
            if response.status != 200:
                raise RuntimeError(f"simulator control {method} {path} answered {response.status}: {answer}")
        return ControlCall(sent, answered, answer)

    async def counters(self) -> dict[str, Any]:
        """``{"total", "by_service", "mobizon_rate_limited"}``."""
        return dict((await self._call("GET", "counters")).answer)

    async def requests(self) -> list[dict[str, Any]]:
        """Every API request received: ``{"service", "method", "path", "timestamp", "status"}``."""
        return list((await self._call("GET", "requests")).answer)

    async def set_status(self, service: str, item_id: object, status: int | str) -> ControlCall:
        """Force an item terminal now (``POST /_sim/status``)."""
        return await self._call("POST", "status", {"service": service, "id": item_id, "status": status})

    async def add_openreplay_job(self, steps: list[dict[str, Any]]) -> ControlCall:
        """Create an OpenReplay job (its id is ``answer["id"]``)."""
        return await self._call("POST", "openreplay/jobs", {"steps": steps})


async def _read_banner(stdout: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    env: dict[str, str] = {}
    while True:
        raw = await stdout.readline()
        if not raw:
            raise RuntimeError("the simulator exited before it was ready (see its log)")
        line = raw.decode().strip()
        if line.startswith(_READY):
            return line[len(_READY) :], env
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep and name.startswith("AIRFLOW_CONN_") and name not in env:  # the JSON form comes first
            env[name] = shlex.split(value)[0]


@contextlib.asynccontextmanager
async def running_simulator(
    workdir: Path, scenario: Mapping[str, Any] | None = None
) -> AsyncIterator[SimulatorProcess]:
    """Start the simulator (with ``scenario``'s items) on a free port; stop it on exit."""
    args = [sys.executable, "-m", "airflow_provider_tasks.simulator", "--port", "0"]
    if scenario is not None:
        path = workdir / "scenario.json"
        path.write_text(json.dumps(scenario), encoding="utf-8")
        args += ["--scenario", str(path)]
    with (workdir / "simulator.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        url, env = await asyncio.wait_for(_read_banner(process.stdout), _START_TIMEOUT)
        connector = aiohttp.TCPConnector(limit=CONTROL_CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:
            yield SimulatorProcess(url, env, session)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), _STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()

"""Driver side of one wait run: simulator and client in their own processes, items ended on cue."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from pathlib import Path
from typing import Any

from bench.analysis import analyse_wait_run
from bench.peers import HTTP_CONN_ID, http_connection
from bench.simproc import CONTROL_CONCURRENCY, ControlCall, SimulatorProcess, running_simulator
from bench.subprocesses import base_env, measuring_process
from bench.workloads import WaitRun

__all__ = ["measure_wait_run"]

_MEASURE_TIMEOUT = 300.0
_SEED = 20261124


async def _end_items(sim: SimulatorProcess, run: WaitRun) -> dict[str, ControlCall]:
    """Make every item terminal through the control API; the call of each item, keyed by ``str(id)``.

    Each item ends at a random moment within one poll interval, so that it meets every
    implementation's polls at a random phase. ``HttpSensorTrigger`` waits until its URL stops
    answering 404: for it, the jobs are created instead.
    """
    rng = random.Random(_SEED)
    items = run.items()
    if run.impl != "http_sensor":
        rng.shuffle(items)
    schedule = deque(zip(sorted(rng.uniform(0, run.poll_interval) for _ in items), items, strict=True))
    begin = time.monotonic()
    calls: dict[str, ControlCall] = {}

    async def worker() -> None:
        while schedule:
            offset, item = schedule.popleft()
            delay = begin + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if run.impl == "http_sensor":
                call = await sim.add_openreplay_job([{"status": run.terminal_status}])
                calls[str(call.answer["id"])] = call
            else:
                calls[str(item)] = await sim.set_status(run.workload, item, run.terminal_status)

    await asyncio.gather(*(worker() for _ in range(CONTROL_CONCURRENCY)))
    return calls


async def measure_wait_run(run: WaitRun, workdir: Path) -> dict[str, Any]:
    """Run ``run`` in fresh processes and return its measurements."""
    workdir.mkdir(parents=True, exist_ok=True)
    async with running_simulator(workdir, run.scenario()) as sim:
        openreplay = sim.connection("openreplay_default")
        config_path = workdir / "client.json"
        config_path.write_text(json.dumps(run.client_config(openreplay["extra"]["project_key"])), encoding="utf-8")
        env = {
            **base_env(workdir.parent / "airflow-home"),
            **sim.env,
            f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": http_connection(openreplay),
        }
        async with measuring_process("bench.client", [str(config_path)], env, workdir / "client.log") as client:
            measured = await client.expect("measured", _MEASURE_TIMEOUT)
            calls = await _end_items(sim, run)
            done = await client.expect("done", run.finish_timeout + _MEASURE_TIMEOUT)
        records = await sim.requests()
        counters = await sim.counters()
    return analyse_wait_run(run, measured, done, calls, records, counters)

"""The triggerer's event loop stays free (issue 9.7): a single Post-e-Ketab wait on a task whose
``task_result`` holds 100,000 rows (~15 MB of JSON) never holds the loop the way a whole-body
``json.loads`` does. The simulator runs in a process of its own, as a real service would: in this
process its JSON encoding would hold the GIL and measure the simulator, not us."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskTrigger

TASK = "5f1c2d3e-0000-4000-8000-00000000bead"
ROWS = 100_000
#: Airflow's triggerer warns when its loop was blocked this long ([triggerer] ... 0.2 s by default).
AIRFLOW_BLOCKED_THRESHOLD = 0.2


@pytest.fixture
def big_task_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    rows = [
        {"local_id": n, "full_name": f"name {n}", "province": 8, "city": 1, "message": "ok", "is_success": True}
        for n in range(ROWS)
    ]
    scenario = {"posteketab": [{"task_id": TASK, "task_type": 0, "steps": [{"status": 3}], "task_result": rows}]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_tasks.simulator", "--scenario", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            match = re.match(r"^export (AIRFLOW_CONN_POSTEKETAB_DEFAULT)='(\{.*)'$", line.strip())
            if match:  # the JSON form (the URI form follows, equally good)
                monkeypatch.setenv(match.group(1), match.group(2))
            if "simulator ready" in line:
                break
        else:
            raise AssertionError("the simulator did not start")
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_huge_task_result_never_blocks_the_triggerers_loop(big_task_simulator):
    async def main() -> tuple[dict[str, Any], float]:
        worst = 0.0
        stop = asyncio.Event()

        async def watchdog() -> None:  # the way the triggerer's block_watchdog measures it
            nonlocal worst
            while not stop.is_set():
                before = time.monotonic()
                await asyncio.sleep(0.01)
                worst = max(worst, time.monotonic() - before - 0.01)

        dog = asyncio.create_task(watchdog())
        trigger = PostEKetabTaskTrigger(posteketab_task_id=TASK, poll_interval=0.1)
        agen = trigger.run()
        try:
            event = (await asyncio.wait_for(agen.__anext__(), 120)).payload
        finally:
            await agen.aclose()
            stop.set()
            await dog
        return event, worst

    event, worst = asyncio.run(main())
    assert event["status"] == "success" and event["partial"] is True
    assert "task_result" not in event["remote"]  # the rows stay out of the event (and the metadata DB)
    assert worst < AIRFLOW_BLOCKED_THRESHOLD / 2, f"the loop was held for {worst:.3f} s"


SLOW_IMPORT_PROBE = """
import asyncio, time
from airflow_provider_tasks.hooks.transport import _import_aiohttp

async def caller(delay):
    await asyncio.sleep(delay)
    module = await _import_aiohttp()
    return getattr(module, "READY", False)

async def watchdog(done):
    worst = 0.0
    while not done.is_set():
        started = time.monotonic()
        await asyncio.sleep(0.05)
        worst = max(worst, time.monotonic() - started - 0.05)
    return worst

async def main():
    done = asyncio.Event()
    dog = asyncio.create_task(watchdog(done))
    # The second trigger starts while the first one's import is under way.
    ready = await asyncio.gather(caller(0), caller(0.3))
    done.set()
    print(ready, round(await dog, 3))

asyncio.run(main())
"""


def test_a_trigger_starting_during_the_first_aiohttp_import_neither_blocks_nor_gets_half_a_module(
    tmp_path: Path,
) -> None:
    """Two triggers start together (two event watchers): the second must wait for aiohttp off the loop
    too, not take the half-imported module from ``sys.modules`` (and then import it on the loop).
    A stand-in aiohttp whose import takes 1 s makes the window wide and the outcome certain."""
    fake = tmp_path / "aiohttp"
    fake.mkdir()
    (fake / "__init__.py").write_text("import time\ntime.sleep(1.0)\nREADY = True\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(
        [sys.executable, "-c", SLOW_IMPORT_PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    ready, worst = out.split("] ")
    assert ready == "[True, True", out  # both got the whole module
    assert float(worst) < 0.5, f"the loop was held {worst} s by the import"

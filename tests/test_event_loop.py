"""The triggerer's event loop stays free (issue 9.7): a single Post-e-Ketab wait on a task whose
``task_result`` holds 100,000 rows (~15 MB of JSON) never holds the loop the way a whole-body
``json.loads`` does. The simulator runs in a process of its own, as a real service would: in this
process its JSON encoding would hold the GIL and measure the simulator, not us."""

from __future__ import annotations

import asyncio
import json
import logging
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


class _Supervisor:
    """The far end of a triggerer's log socket: reads the lines, and can stop reading for a while, as the
    supervisor does while it commits the events of hundreds of finished triggers one by one."""

    def __init__(self) -> None:
        import socket
        import threading

        self._ours, self._far = socket.socketpair()
        self.sink = self._ours.makefile("wb")
        self.lines: list[bytes] = []
        self._reading = threading.Event()
        self._reading.set()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            self._reading.wait()
            chunk = self._far.recv(65536)
            if not chunk:
                return
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            self.lines.extend(complete)

    def busy(self, seconds: float) -> None:
        import threading

        self._reading.clear()
        threading.Timer(seconds, self._reading.set).start()

    def close(self) -> None:
        self.sink.close()
        self._ours.close()
        self._thread.join(10)
        self._far.close()


#: Seconds the stand-in supervisor stops reading its log socket.
BUSY = 2.0


def test_log_lines_of_300_waits_ending_together_never_wait_for_a_busy_log_socket_on_the_loop(sim):
    """Issue 9.7, the notice the deployment bench showed when 300 jobs end in one list read (0.55-0.96 s).
    Airflow 3 gives a trigger a structlog logger over one ``BytesLogger`` (one lock for all writers) on
    the socket to the triggerer's supervisor, and writes its own lines from threads. While the
    supervisor commits 300 events it does not read the socket: a writer thread blocks holding the lock,
    and a plain ``log.info`` on the loop then waits for it. Here the "supervisor" stops reading for
    ``BUSY`` seconds just as the jobs end, while a thread writes a line too big for the socket; every
    wait's line must still be written, and the loop is never held for a good part of that time (a
    plain ``log.info`` held it about ``BUSY`` - 0.2 s; the rest of 300 waits ending takes 0.05-0.1 s on
    a quiet machine, 0.3 s with three test suites sharing two cores)."""
    import threading

    structlog = pytest.importorskip("structlog")
    from airflow_provider_tasks.simulator import Step
    from airflow_provider_tasks.triggers.openreplay import OpenReplayJobTrigger

    supervisor = _Supervisor()
    log = structlog.wrap_logger(
        structlog.BytesLogger(supervisor.sink),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        processors=[structlog.processors.JSONRenderer(serializer=lambda obj, **kw: json.dumps(obj).encode())],
    )
    waits = 300
    ids = [
        sim.openreplay.add_job(user_id=f"u{n}", steps=[Step("scheduled", seconds=1.0), Step("completed")])
        for n in range(waits)
    ]

    async def one(item: int) -> str:
        trigger = OpenReplayJobTrigger(job_id=item, poll_interval=0.3)
        trigger._log = log  # what Airflow 3's triggerer gives every trigger
        agen = trigger.run()
        try:
            return str((await agen.__anext__()).payload["status"])
        finally:
            await agen.aclose()

    async def main() -> tuple[list[str], float]:
        worst = 0.0
        done = asyncio.Event()

        async def watchdog() -> None:  # Airflow's block_watchdog, finer
            nonlocal worst
            while not done.is_set():
                started = time.monotonic()
                await asyncio.sleep(0.05)
                worst = max(worst, time.monotonic() - started - 0.05)

        async def busy_supervisor() -> None:
            await asyncio.sleep(0.8)  # the jobs end at 1.0 s
            supervisor.busy(BUSY)
            # Airflow's own line from a thread: too big for the socket, it holds the lock until read.
            threading.Thread(target=log.info, args=("x" * 4_000_000,), daemon=True).start()

        dog = asyncio.create_task(watchdog())
        pause = asyncio.create_task(busy_supervisor())
        statuses = await asyncio.wait_for(asyncio.gather(*(one(item) for item in ids)), 60)
        done.set()
        await asyncio.gather(dog, pause)
        return statuses, worst

    try:
        statuses, worst = asyncio.run(main())
        deadline = time.monotonic() + 10
        ended = [line for line in supervisor.lines if b"completed" in line]
        while len(ended) < waits and time.monotonic() < deadline:
            time.sleep(0.1)
            ended = [line for line in supervisor.lines if b"completed" in line]
    finally:
        supervisor.close()
    assert statuses == ["success"] * waits
    assert len(ended) == waits, f"{len(ended)} of {waits} lines saying the job completed reached the supervisor"
    assert worst < BUSY / 3, f"the loop was held for {worst:.3f} s while the log socket was full"

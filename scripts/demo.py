"""``make demo``: run every example DAG with ``airflow dags test`` against the bundled simulator.

Prints one line per DAG with its final state and its ``report`` task's result, and exits non-zero
if any DAG did not succeed. Everything it creates lives under ``.demo/`` (recreated each run), or the
folder given with ``--work``. Airflow and the simulator run with that folder as working directory, so
``airflow_provider_tasks`` is the one installed in this Python (not the source tree when this is the
installed wheel, as in ``scripts/matrix.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
DAGS = ROOT / "example_dags"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_banner(lines: Iterable[str]) -> Banner:
    """Read what ``python -m airflow_provider_tasks.simulator`` prints before it serves."""
    banner = Banner()
    form = "json"
    for line in lines:
        line = line.strip()
        if line.startswith("simulator ready on "):
            banner.url = line.removeprefix("simulator ready on ")
            return banner
        if line.startswith("# The same connections, URI form"):
            form = "uri"
        match = re.match(r"^export (AIRFLOW_CONN_\w+)=(.*)$", line)
        if match:
            (banner.json if form == "json" else banner.uris)[match.group(1)] = shlex.split(match.group(2))[0]
            banner.lines[form].append(line)
        item = re.match(r"^#\s+(posteketab|openreplay|mobizon) (?:task|job) (\S+)$", line)
        if item:
            banner.items.append((item.group(1), item.group(2)))
    raise SystemExit("the simulator stopped before it was ready")


@dataclass
class Banner:
    """The simulator's connections (``json`` and ``uris``: ``AIRFLOW_CONN_*`` → value; ``lines``: the
    ``export`` lines as printed, per form), the items its scenario created (``(service, id)``) and its URL."""

    json: dict[str, str] = field(default_factory=dict)
    uris: dict[str, str] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=lambda: {"json": [], "uri": []})
    items: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""


def start_simulator(
    env: dict[str, str], python: str = sys.executable, cwd: Path | None = None
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start the simulator with the demo scenario; return it and the AIRFLOW_CONN_* (JSON form) it printed."""
    proc, banner = launch_simulator(env, python, cwd=cwd)
    return proc, banner.json


def launch_simulator(
    env: dict[str, str],
    python: str = sys.executable,
    scenario: str = "demo",
    port: int | None = None,
    cwd: Path | None = None,
) -> tuple[subprocess.Popen[str], Banner]:
    """Start the simulator as the README says; return it and what it printed."""
    proc = subprocess.Popen(
        [python, "-m", "airflow_provider_tasks.simulator", "--port", str(port or free_port()), "--scenario", scenario],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    try:
        return proc, read_banner(proc.stdout)
    except BaseException:
        proc.kill()
        proc.wait(30)
        raise


#: Example DAGs that need a newer Airflow than the one running: the DAG file then defines no DAG.
NEEDS_AIRFLOW_3 = {"example_asset_events": "event-driven scheduling (AssetWatcher) needs Airflow 3"}


def _airflow_major() -> int:
    from importlib.metadata import version

    return int(version("apache-airflow").split(".")[0])


def dag_ids() -> list[str]:
    ids = []
    for path in sorted(DAGS.glob("example_*.py")):
        if path.stem in NEEDS_AIRFLOW_3 and _airflow_major() < 3:
            print(f"SKIP {path.stem}: {NEEDS_AIRFLOW_3[path.stem]}", flush=True)
            continue
        match = re.search(r'dag_id="([^"]+)"', path.read_text(encoding="utf-8"))
        if match:
            ids.append(match.group(1))
    return ids


def outcome(db: Path, dag_id: str) -> tuple[str, str]:
    """Final state of the DAG's latest run and its ``report`` task's XCom."""
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT state, run_id FROM dag_run WHERE dag_id=? ORDER BY id DESC LIMIT 1", (dag_id,))
        found = row.fetchone()
        if not found:
            return "no run", ""
        state, run_id = found
        xcom = conn.execute(
            "SELECT value FROM xcom WHERE dag_id=? AND run_id=? AND task_id='report' AND key='return_value'",
            (dag_id, run_id),
        ).fetchone()
    result = ""
    if xcom and xcom[0] is not None:
        value = xcom[0]
        with contextlib.suppress(ValueError, AttributeError, UnicodeDecodeError):
            value = json.loads(value if isinstance(value, str) else value.decode())
        result = value if isinstance(value, str) else json.dumps(value)
    return str(state), result


def main() -> int:
    parser = argparse.ArgumentParser(description="Run every example DAG with `airflow dags test`.")
    parser.add_argument("--work", type=Path, default=WORK, help="folder for the Airflow home and logs (recreated)")
    work = parser.parse_args().work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    home = work / "airflow"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PROVIDER_TASKS_EXAMPLE_POLL_SECONDS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(DAGS), os.environ.get("PYTHONPATH")])),
    }
    airflow = [sys.executable, "-m", "airflow"]
    sim, conns = start_simulator(env, cwd=work)
    env.update(conns)
    failed = 0
    spec = importlib.util.find_spec("airflow_provider_tasks")
    print(f"demo: airflow_provider_tasks from {spec.origin if spec else 'nowhere'}", flush=True)
    try:
        print("demo: preparing the Airflow metadata database ...", flush=True)
        subprocess.run([*airflow, "db", "migrate"], env=env, cwd=work, check=True, capture_output=True, text=True)
        for dag_id in dag_ids():
            log = work / "logs" / f"{dag_id}.log"
            started = time.monotonic()
            with log.open("w") as out:
                proc = subprocess.run(
                    [*airflow, "dags", "test", dag_id],
                    env=env,
                    cwd=work,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=900,
                )
            state, result = outcome(home / "airflow.db", dag_id)
            ok = proc.returncode == 0 and state == "success"
            failed += not ok
            took = time.monotonic() - started
            detail = result or f"see {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log}"
            print(f"{'OK  ' if ok else 'FAIL'} {dag_id}: {state} in {took:.0f}s - {detail}", flush=True)
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    print(f"demo: {len(dag_ids()) - failed} of {len(dag_ids())} example DAGs succeeded")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m airflow_provider_tasks.simulator`` as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_tasks.simulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def demo_server() -> Iterator[tuple[subprocess.Popen[str], dict[str, str], str]]:
    process = _spawn("--port", "0", "--scenario", "demo")
    assert process.stdout is not None
    exports: dict[str, str] = {}
    url = ""
    try:
        for line in process.stdout:  # blocks until the server prints; the test timeout guards it
            line = line.rstrip("\n")
            if line.startswith("simulator ready on "):
                url = line.removeprefix("simulator ready on ")
                break
            name, _, quoted = line.partition("=")
            exports[name] = quoted
        assert url, f"no ready line; stderr: {process.stderr.read() if process.stderr else ''}"
        yield process, exports, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_cli_serves_the_demo_scenario_and_stops_on_sigterm(
    demo_server: tuple[subprocess.Popen[str], dict[str, str], str],
) -> None:
    process, exports, url = demo_server
    assert url.startswith("http://127.0.0.1:")
    assert set(exports) == {
        "AIRFLOW_CONN_POSTEKETAB_DEFAULT",
        "AIRFLOW_CONN_OPENREPLAY_DEFAULT",
        "AIRFLOW_CONN_MOBIZON_DEFAULT",
    }
    for value in exports.values():  # export-ready: single-quoted JSON
        assert value.startswith("'") and value.endswith("'")
    posteketab = json.loads(exports["AIRFLOW_CONN_POSTEKETAB_DEFAULT"][1:-1])
    assert posteketab["host"] == f"{url}/posteketab/api/v2/public"

    detail = requests.post(
        f"{posteketab['host']}/task/detail/",
        json={"task_id": "5f1c2d3e-0000-4000-8000-000000000001"},
        headers={"Authorization": f"JWT {posteketab['password']}"},
        timeout=5,
    ).json()
    assert detail["entries"]["task_status"] == 1
    openreplay = json.loads(exports["AIRFLOW_CONN_OPENREPLAY_DEFAULT"][1:-1])
    job = requests.get(
        f"{openreplay['host']}/public/{openreplay['extra']['project_key']}/jobs/1000",
        headers={"Authorization": f"Bearer {openreplay['password']}"},
        timeout=5,
    ).json()["data"]
    assert job["status"] == "completed"
    mobizon = json.loads(exports["AIRFLOW_CONN_MOBIZON_DEFAULT"][1:-1])
    status = requests.post(
        f"{mobizon['host']}/service/taskqueue/getstatus",
        params={"output": "json", "api": "v1", "apiKey": mobizon["password"]},
        data={"id": 5001},
        timeout=5,
    ).json()
    assert status == {"code": 0, "data": {"progress": "0", "status": "0"}, "message": ""}
    assert requests.get(f"{url}/_sim/counters", timeout=5).json()["total"] == 3

    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0


def test_cli_stops_on_sigint(demo_server: tuple[subprocess.Popen[str], dict[str, str], str]) -> None:
    process, _, _ = demo_server
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0


def test_cli_rejects_a_bad_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.json"
    scenario.write_text(json.dumps({"tapin": []}))
    process = _spawn("--scenario", str(scenario))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "unknown scenario key" in stderr

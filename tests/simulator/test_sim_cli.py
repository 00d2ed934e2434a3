"""``python -m airflow_provider_tasks.simulator`` as a real process."""

from __future__ import annotations

import json
import os
import shlex
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


Served = tuple[subprocess.Popen[str], list[str], str]
CONNECTIONS = {"AIRFLOW_CONN_POSTEKETAB_DEFAULT", "AIRFLOW_CONN_OPENREPLAY_DEFAULT", "AIRFLOW_CONN_MOBIZON_DEFAULT"}


@pytest.fixture
def demo_server() -> Iterator[Served]:
    process = _spawn("--port", "0", "--scenario", "demo")
    assert process.stdout is not None
    lines: list[str] = []
    url = ""
    try:
        for line in process.stdout:  # blocks until the server prints; the test timeout guards it
            line = line.rstrip("\n")
            if line.startswith("simulator ready on "):
                url = line.removeprefix("simulator ready on ")
                break
            lines.append(line)
        assert url, f"no ready line; stderr: {process.stderr.read() if process.stderr else ''}"
        yield process, lines, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _exports(lines: list[str], after: str, before: str) -> dict[str, str]:
    block = lines[lines.index(after) + 1 : lines.index(before)]
    assert all(line.startswith("export AIRFLOW_CONN_") for line in block), block
    return dict(line.removeprefix("export ").partition("=")[::2] for line in block)


def test_cli_prints_both_forms_and_the_scenario_items(demo_server: Served) -> None:
    _, lines, url = demo_server
    port = url.rsplit(":", 1)[1]
    as_json = _exports(lines, "# Connections to this simulator, JSON form:", "# The same connections, URI form:")
    as_uri = _exports(lines, "# The same connections, URI form:", "# Scenario demo created:")
    assert set(as_json) == set(as_uri) == CONNECTIONS
    for value in [*as_json.values(), *as_uri.values()]:  # export-ready: single-quoted
        assert value.startswith("'") and value.endswith("'")
    assert shlex.split(as_uri["AIRFLOW_CONN_POSTEKETAB_DEFAULT"]) == [
        f"posteketab://:sim-posteketab-token@127.0.0.1:{port}/posteketab%2Fapi%2Fv2%2Fpublic?scheme=http&timeout=10"
    ]
    assert lines[lines.index("# Scenario demo created:") + 1 :] == [
        "#   posteketab task 5f1c2d3e-0000-4000-8000-000000000001",
        "#   posteketab task 5f1c2d3e-0000-4000-8000-000000000002",
        "#   posteketab task 5f1c2d3e-0000-4000-8000-000000000003",
        "#   openreplay job 1000",
        "#   openreplay job 1001",
        "#   mobizon task 5001",
    ]


def test_the_printed_export_lines_work_in_a_shell(demo_server: Served) -> None:
    _, lines, _ = demo_server
    script = "\n".join([*lines, 'printf "%s\\n" "$AIRFLOW_CONN_MOBIZON_DEFAULT"'])
    pasted = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, timeout=30)
    assert pasted.stdout.startswith("mobizon://:sim-mobizon-key@127.0.0.1:")  # the URI block comes last


def test_cli_serves_the_demo_scenario_and_stops_on_sigterm(
    demo_server: Served,
) -> None:
    process, lines, url = demo_server
    assert url.startswith("http://127.0.0.1:")
    exports = _exports(lines, "# Connections to this simulator, JSON form:", "# The same connections, URI form:")
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


def test_cli_stops_on_sigint(demo_server: Served) -> None:
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

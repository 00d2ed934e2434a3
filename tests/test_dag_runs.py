"""Real DAG runs (``airflow dags test``) of what users meet first (issue 10, items 1, 4 and 7).

One Airflow home (an SQLite metadata database, migrated once for the module) and one simulator in
this process, reached over HTTP by the ``airflow`` subprocesses:

* list filters rendered from ``params`` (``"[0, 2]"``, ``"3"``, ``"0,2"``, ``"['completed', 'failed']"``,
  ``"completed,failed"``) select the right items;
* a task that fails before it stores its extra link leaves no error-level "XCom not found" line in its
  log (Airflow 3 reads the links when the task ends), and one that stores it leaves none either;
* connections exported by ``airflow connections export --file-format env`` (URI and JSON
  serialization) reach the simulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.simulator import Simulator, Step

pytestmark = pytest.mark.timeout(900)

DAGS = """
from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_tasks.operators.openreplay import OpenReplayListJobsOperator
from airflow_provider_tasks.operators.posteketab import PostEKetabListTasksOperator
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor

PARAMS = {
    "types": [0, 2],
    "status": 3,
    "job_statuses": ["completed", "failed"],
    "csv": "completed,failed",
    "bad": "three",
    "done_task": "unset",
    "blank": " ",
}

with DAG("first_contact", schedule=None, start_date=datetime(2026, 1, 1), params=PARAMS):
    PostEKetabListTasksOperator(
        task_id="tasks_list_and_int",
        posteketab_task_type="{{ params.types }}",  # renders "[0, 2]"
        posteketab_task_status="{{ params.status }}",  # renders "3"
    )
    PostEKetabListTasksOperator(task_id="tasks_csv", posteketab_task_type="{{ params.types | join(',') }}")
    PostEKetabListTasksOperator(
        task_id="tasks_items", posteketab_task_type=["{{ params.types[0] }}", "{{ params.types[1] }}"]
    )
    OpenReplayListJobsOperator(task_id="jobs_list", status="{{ params.job_statuses }}")
    OpenReplayListJobsOperator(task_id="jobs_csv", status="{{ params.csv }}", action="{{ 'delete_user_data' }}")
    PostEKetabListTasksOperator(task_id="bad_filter", posteketab_task_status="{{ params.bad }}", retries=0)
    # Fails before it stores its extra link: the id renders blank.
    PostEKetabTaskSensor(task_id="link_never_stored", posteketab_task_id="{{ params.blank }}", retries=0)
    PostEKetabTaskSensor(task_id="link_stored", posteketab_task_id="{{ params.done_task }}", poke_interval=1, retries=0)
"""

#: Each task of the DAG and the state it must end in.
EXPECTED_STATES = {
    "tasks_list_and_int": "success",
    "tasks_csv": "success",
    "tasks_items": "success",
    "jobs_list": "success",
    "jobs_csv": "success",
    "bad_filter": "failed",
    "link_never_stored": "failed",
    "link_stored": "success",
}


class AirflowHome:
    def __init__(self, root: Path, sim: Simulator) -> None:
        self.root = root
        self.sim = sim
        dags = root / "dags"
        dags.mkdir(parents=True)
        (dags / "first_contact.py").write_text(textwrap.dedent(DAGS), encoding="utf-8")
        self.env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(root),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            **sim.env(),
        }

    def airflow(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=env or self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check and result.returncode != 0:
            output = result.stdout[-3000:] + result.stderr[-3000:]
            for secret in (self.sim.posteketab_token, self.sim.openreplay_api_key, self.sim.mobizon_api_key):
                output = output.replace(secret, "***")
            raise AssertionError(f"airflow {' '.join(args)}: exit {result.returncode}\n{output}")
        return result

    def dags_test(self, dag_id: str, conf: dict[str, Any]) -> tuple[dict[str, str], str]:
        """Run the DAG; return its tasks' states and everything it printed."""
        result = self.airflow("dags", "test", dag_id, "-c", json.dumps(conf), check=False)
        with sqlite3.connect(self.root / "airflow.db") as db:
            rows = db.execute("SELECT task_id, state FROM task_instance WHERE dag_id=?", (dag_id,)).fetchall()
        return dict(rows), result.stdout + result.stderr

    def xcom(self, dag_id: str, task_id: str, key: str = "return_value") -> Any:
        with sqlite3.connect(self.root / "airflow.db") as db:
            row = db.execute(
                "SELECT value FROM xcom WHERE dag_id=? AND task_id=? AND key=? ORDER BY dag_run_id DESC LIMIT 1",
                (dag_id, task_id, key),
            ).fetchone()
        if row is None:
            return None
        value = row[0]
        with contextlib.suppress(ValueError, TypeError, AttributeError, UnicodeDecodeError):
            value = json.loads(value if isinstance(value, str) else value.decode())
        return value


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowHome]:
    with Simulator(mobizon_rate_limit=None) as sim:
        airflow_home = AirflowHome(tmp_path_factory.mktemp("airflow-home"), sim)
        airflow_home.airflow("db", "migrate")
        yield airflow_home


@pytest.fixture(scope="module")
def run(home: AirflowHome) -> dict[str, Any]:
    """One run of the DAG against items made for it."""
    sim = home.sim
    tasks = {
        (kind, status): sim.posteketab.add_task(task_type=kind, steps=[Step(status)])
        for kind in range(4)
        for status in (2, 3)
    }
    jobs = {status: sim.openreplay.add_job(steps=[Step(status)]) for status in ("completed", "failed", "cancelled")}
    done = sim.posteketab.add_task(task_type=1, steps=[Step(3)])
    states, output = home.dags_test("first_contact", {"done_task": done})
    return {"tasks": tasks, "jobs": jobs, "done": done, "states": states, "output": output}


def test_every_task_ends_as_expected(run):
    assert run["states"] == EXPECTED_STATES, run["output"][-6000:]


def test_list_filters_rendered_from_params_select_the_right_items(home, run):
    def ids(task_id: str, key: str = "id") -> set[Any]:
        return {item[key] for item in home.xcom("first_contact", task_id)}

    tasks, jobs = run["tasks"], run["jobs"]
    assert ids("tasks_list_and_int") == {tasks[(0, 3)], tasks[(2, 3)]}
    every_status = {tasks[(kind, status)] for kind in (0, 2) for status in (2, 3)}
    assert ids("tasks_csv") == ids("tasks_items") == every_status
    assert ids("jobs_list", "jobId") == ids("jobs_csv", "jobId") == {jobs["completed"], jobs["failed"]}


def test_a_bad_rendered_filter_fails_naming_the_parameter(run):
    assert "posteketab_task_status must be an int or a list of ints, got 'three'" in run["output"]


def test_links_stored_or_not_leave_no_error_in_the_log(home, run):
    """Airflow 3 reads every extra link when a task ends; one never stored must not log an error."""
    assert "posteketab_task_id must be a non-empty string" in run["output"]  # why link_never_stored failed
    assert home.xcom("first_contact", "link_stored", "_link_PostEKetabTaskLink") == home.sim.url
    # Airflow 3.0 logs storing a link at debug level ("Setting xcom for operator extra link"): not noise.
    lines = run["output"].splitlines()
    noise = [
        line
        for line in lines
        if "XCom not found" in line or ("extra link" in line and re.search(r"error|warning", line, re.IGNORECASE))
    ]
    assert noise == []


CONNECTIONS = {
    "posteketab_cli": (
        "posteketab",
        PostEKetabHook,
        lambda sim: sim.posteketab_url,
        lambda sim: sim.posteketab_token,
        {},
    ),
    "openreplay_cli": (
        "openreplay",
        OpenReplayHook,
        lambda sim: sim.openreplay_url,
        lambda sim: sim.openreplay_api_key,
        {"project_key": "simproject"},
    ),
    "mobizon_cli": ("mobizon", MobizonHook, lambda sim: sim.mobizon_url, lambda sim: sim.mobizon_api_key, {}),
}


def test_connections_exported_by_the_cli_reach_the_service(home, tmp_path, monkeypatch):
    sim = home.sim
    stored = {
        conn_id: {
            "conn_type": kind,
            "host": host(sim),
            "password": secret(sim),
            "extra": json.dumps({"timeout": 10, **extra}),
        }
        for conn_id, (kind, _, host, secret, extra) in CONNECTIONS.items()
    }
    source = tmp_path / "connections.json"
    source.write_text(json.dumps(stored), encoding="utf-8")
    env = {key: value for key, value in home.env.items() if not key.startswith("AIRFLOW_CONN_")}
    home.airflow("connections", "import", "--overwrite", str(source), env=env)
    for serialization in ("uri", "json"):
        # A file, not "-": Airflow 2.11 crashes after writing to stdout ("I/O operation on closed file").
        target = tmp_path / f"connections-{serialization}.env"
        home.airflow(
            "connections",
            "export",
            str(target),
            "--file-format",
            "env",
            "--serialization-format",
            serialization,
            env=env,
        )
        exported = target.read_text(encoding="utf-8")
        lines = dict(line.split("=", 1) for line in exported.splitlines() if line.split("=", 1)[0] in CONNECTIONS)
        assert set(lines) == set(CONNECTIONS), exported
        for conn_id, (kind, hook_class, host, _, _) in CONNECTIONS.items():
            value = shlex.split(lines[conn_id])[0] if lines[conn_id][:1] in "'\"" else lines[conn_id]
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
            before = sim.count(kind)
            hook = hook_class(conn_id)
            assert hook.settings.base_url == host(sim), value
            assert hook.test_connection()[0] is True
            assert sim.count(kind) == before + 1

"""The example DAGs in a real Airflow 3 deployment, driven through its REST API.

The simulator runs in this test process and holds every remote task in a running state until the
test has seen the deferrable tasks sit in the triggerer (state ``deferred``) and has restarted the
triggerer(s) under them; only then are the remote tasks finished. Each test runs on both shapes of
deployment (``stacks``): the quick one (SQLite, LocalExecutor) and the production one (PostgreSQL,
CeleryExecutor on Redis, two triggerers). The tests of one shape run in order and share one deployment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_tasks.simulator import Simulator, Step

from .deployment import Deployment, secrets_in, wait_for
from .stacks import PRODUCTION, SHAPES, Stack, deployed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

IMPORT_TASK = "5f1c2d3e-0000-4000-8000-000000000001"
EXPORT_TASK = "5f1c2d3e-0000-4000-8000-000000000002"
MOBIZON_TASK = 5001
IMPORT_ROWS = [
    {"local_id": 1, "full_name": "Sara", "province": 8, "city": 301, "message": "ok", "is_success": True},
    {
        "local_id": 2,
        "full_name": "Reza",
        "province": 12,
        "city": 561,
        "message": "شهر مورد نظر یافت نشد.",
        "is_success": False,
    },
]
EXPORT_ROWS: list[dict[str, Any]] = []

#: Loop holds shorter than this are not counted against us (see the test).
NOT_BLOCKED_BELOW_S = 0.3

#: (dag_id, task_id) of every task that must wait in the triggerer.
DEFERRED = [
    ("example_posteketab", "wait_for_import"),
    ("example_openreplay", "wait_for_deletion"),
    ("example_mobizon", "wait_for_upload"),
    ("example_pipeline", "delete_user_data"),
    ("example_pipeline", "wait_for_upload"),
]


class World:
    """What the ordered tests share."""

    def __init__(self, sim: Simulator, stack: Stack) -> None:
        self.sim = sim
        self.stack = stack
        self.deployment: Deployment = stack.deployment
        self.runs: dict[str, str] = {}
        self.seen_deferred: set[tuple[str, str]] = set()


def _seed(sim: Simulator) -> None:
    sim.posteketab.add_task(IMPORT_TASK, task_type=0, steps=[Step(1, polls=1), Step(2)], task_result=IMPORT_ROWS)
    sim.posteketab.add_task(EXPORT_TASK, task_type=2, steps=[Step(2, polls=1), Step(3)], task_result=EXPORT_ROWS)
    sim.mobizon.add_task(MOBIZON_TASK, steps=[Step(1, progress=40)])
    sim.openreplay.new_job_steps = [Step("scheduled")]


@pytest.fixture(scope="module", params=SHAPES)
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == PRODUCTION:  # the session's, shared with the fault tests (conftest)
        production = request.getfixturevalue("production")
        _seed(production.sim)
        yield World(production.sim, production.stack)
        return
    with Simulator() as sim:
        _seed(sim)
        with deployed(request.param, sim.env()) as stack:
            yield World(sim, stack)


def test_every_example_dag_defers_in_the_triggerer(world: World) -> None:
    d = world.deployment
    for dag_id in sorted({dag for dag, _ in DEFERRED}):
        world.runs[dag_id] = d.trigger(dag_id)

    def all_deferred() -> bool:
        for dag_id, task_id in DEFERRED:
            ti = d.task_instances(dag_id, world.runs[dag_id]).get(task_id, {})
            if ti.get("state") == "deferred":
                world.seen_deferred.add((dag_id, task_id))
        return len(world.seen_deferred) == len(DEFERRED)

    wait_for("every deferrable task to be deferred", all_deferred, 600, interval=2)
    # Extra links are pushed before deferring, so the API already serves them.
    links = d.links("example_posteketab", world.runs["example_posteketab"], "wait_for_import")
    assert links.get("Post-e-Ketab") == world.sim.url


def test_a_triggerer_restart_loses_no_wait(world: World) -> None:
    d = world.deployment
    d.restart(*d.triggerers)  # all of them at once: no other triggerer keeps the waits meanwhile
    for triggerer in d.triggerers:
        d.triggerer_job(triggerer)
    # Still deferred after the restart: the new triggerer(s) picked the triggers up from the database.
    for dag_id, task_id in DEFERRED:
        assert d.task_instances(dag_id, world.runs[dag_id])[task_id]["state"] == "deferred", (dag_id, task_id)
    polls_before = world.sim.count("posteketab", path="task/detail")
    wait_for("the new triggerer to poll", lambda: world.sim.count("posteketab", path="task/detail") > polls_before, 120)


def test_runs_succeed_once_the_remote_tasks_finish(world: World) -> None:
    sim, d = world.sim, world.deployment
    sim.set_status("posteketab", IMPORT_TASK, 3)
    sim.set_status("mobizon", MOBIZON_TASK, 2, progress=100)
    for job_id in sim.openreplay.ids():
        if sim.openreplay.current_status(job_id) in ("scheduled", "running"):  # not the fault tests' ended ones
            sim.set_status("openreplay", job_id, "completed")

    def finished() -> dict[str, str] | None:
        states = {dag_id: d.run_state(dag_id, run_id) for dag_id, run_id in world.runs.items()}
        return states if all(state in ("success", "failed") for state in states.values()) else None

    states = wait_for("every run to finish", finished, 600, interval=3)
    assert states == {dag_id: "success" for dag_id in world.runs}, states
    for dag_id, task_id in DEFERRED:
        ti = d.task_instances(dag_id, world.runs[dag_id])[task_id]
        assert ti["state"] == "success" and ti["try_number"] == 1, (dag_id, task_id, ti)


def test_xcom_values_are_what_the_simulator_scripted(world: World) -> None:
    d, runs = world.deployment, world.runs
    assert d.xcom("example_posteketab", runs["example_posteketab"], "fetch_rows") == IMPORT_ROWS
    sensor_value = d.xcom("example_posteketab", runs["example_posteketab"], "wait_for_import")
    assert sensor_value["task_status"] == 3 and sensor_value["id"] == IMPORT_TASK
    assert d.xcom("example_posteketab", runs["example_posteketab"], "report") == (
        "import finished: 2 rows, 1 failed; 0 Excel import(s) of the account failed"
    )
    upload = d.xcom("example_mobizon", runs["example_mobizon"], "wait_for_upload")
    assert upload == {"progress": 100, "status": 2}
    job = d.xcom("example_openreplay", runs["example_openreplay"], "wait_for_deletion")
    assert job["status"] == "completed" and job["referenceId"] == "demo-user@example.com"
    pipeline = d.xcom("example_pipeline", runs["example_pipeline"], "report")
    assert "0 export rows" in pipeline and "completed" in pipeline and "status 2" in pipeline


def test_extra_links_are_served_by_the_api(world: World) -> None:
    d, runs = world.deployment, world.runs
    assert d.links("example_openreplay", runs["example_openreplay"], "wait_for_deletion") == {
        "OpenReplay": world.sim.url
    }
    assert d.links("example_mobizon", runs["example_mobizon"], "wait_for_upload") == {"Mobizon": world.sim.url}
    assert d.links("example_pipeline", runs["example_pipeline"], "delete_user_data") == {"OpenReplay": world.sim.url}


def test_no_secret_in_any_log(world: World) -> None:
    sim = world.sim
    keys = [sim.posteketab_token, sim.openreplay_api_key, sim.mobizon_api_key]
    files = world.deployment.all_logs() + world.stack.server_logs()
    assert any("triggerer" in path.name for path in files) and len(files) > 10
    assert secrets_in(files, keys) == []
    # The scan would have found them: the connections really were in the environment.
    assert all(key in json.dumps(world.deployment.env) for key in keys)


def test_no_triggerer_reports_its_loop_blocked(world: World) -> None:
    """Airflow's watchdog logs "async thread was blocked for N seconds" when the loop was held over
    0.2 s (issue 9.7). Before the first-import fix every deployment logged one of 0.22-0.47 s as its
    event watchers started. Held under 0.3 s is not counted: on a busy 2-core machine other processes
    alone hold it 0.2-0.25 s now and then (seen while another job ran beside the suite)."""
    d = world.deployment
    blocked = re.compile(r"async thread was blocked for ([0-9.]+) seconds")
    notices = [
        f"{path.name}: {line.strip()[:160]}"
        for name in d.triggerers
        for path in d.component_logs(name)
        for line in path.read_text(errors="replace").splitlines()
        if (found := blocked.search(line)) and float(found.group(1)) >= NOT_BLOCKED_BELOW_S
    ]
    assert notices == []

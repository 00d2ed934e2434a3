"""Faults in the production-shaped deployment (PostgreSQL, CeleryExecutor on Redis, two triggerers),
each a test, each on a run of its own of the fault DAG (``dags/e2e_faults.py``: tens of deferred
waits across the three services, some of them OpenReplay jobs the task created and owns).

Every test holds the remote items running while it applies its fault, then lets them end as the
simulator scripts; :meth:`FaultRun.problems` then checks that every task ended as scripted, on the
try it should, that every deferred wait fired exactly one trigger event (none lost, none doubled),
that no owned job was cancelled except by a real kill, and that no API key reached any log. The
tests run in order on one deployment; each leaves its run ended, whatever its outcome.
"""

from __future__ import annotations

import datetime
import signal
import time
import warnings
from collections.abc import Callable, Iterator

import pytest

from airflow_provider_tasks.simulator import Simulator

from .deployment import CELERY_WORKER, Deployment, secrets_in, wait_for
from .fault_runs import DAG_ID, FaultRun
from .stacks import Production, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

OUTAGE = 120  # seconds the simulator is unreachable (the fault DAG's budgets cover it: see its docstring)


class World:
    def __init__(self, sim: Simulator, stack: Stack) -> None:
        self.sim = sim
        self.stack = stack
        self.deployment = stack.deployment
        self.runs: list[FaultRun] = []


@pytest.fixture(scope="module")
def world(production: Production) -> World:
    return World(production.sim, production.stack)


@pytest.fixture
def start_run(world: World) -> Iterator[Callable[..., FaultRun]]:
    """Trigger a run of the fault DAG; afterwards end it whatever the test did, so none polls on."""
    runs: list[FaultRun] = []

    def start(name: str, **waits: int) -> FaultRun:
        run = FaultRun(world.sim, world.stack, name, **waits)
        runs.append(run)
        world.runs.append(run)
        return run

    yield start
    if not world.sim.running:
        world.sim.start()
    for run in runs:
        run.finish()
    for run in runs:
        run.wait_ended()


def _adopted(run: FaultRun, deployment: Deployment, triggerer: str) -> bool:
    """Whether ``triggerer`` holds every deferred wait of ``run``."""
    holders = run.holders()
    return set(holders) == {deployment.triggerer_job(triggerer)} and sum(holders.values()) == len(run.deferred())


def _heartbeat(deployment: Deployment, job_id: int) -> datetime.datetime:
    job = next(job for job in deployment.jobs() if job["id"] == job_id)
    return datetime.datetime.fromisoformat(job["latest_heartbeat"])


def test_sigkill_of_the_triggerer_holding_most_waits(world: World, start_run: Callable[..., FaultRun]) -> None:
    d = world.deployment
    run = start_run("sigkill")
    run.wait_deferred()
    victim_job, held = run.holders().most_common(1)[0]
    victim = d.triggerer_of(victim_job)
    (survivor,) = set(d.triggerers) - {victim}
    d.kill(victim)
    try:
        # Its heartbeat goes stale; past the health threshold the other triggerer adopts its triggers.
        wait_for(
            f"{survivor} to adopt the {held} waits of {victim}",
            lambda: _adopted(run, d, survivor),
            120,
            2,
        )
        assert run.all_deferred(), run.task_instances()
    finally:
        d.start(victim)  # back to two triggerers for the tests after this one (it boots meanwhile)
    run.finish()
    run.wait_ended()
    assert run.problems() == []


def test_sigstop_past_the_health_threshold_then_sigcont(world: World, start_run: Callable[..., FaultRun]) -> None:
    """A triggerer frozen past the health threshold loses its waits to the other one; once thawed it
    drops them (Airflow cancels them as if a user had acted) and must not cancel the owned jobs: their
    tasks are still deferred, now in the other triggerer, and succeed on try 1."""
    d = world.deployment
    run = start_run("sigstop")
    run.wait_deferred()
    owned = {wait.key for wait in run.deferred() if wait.task_id == "owned_deletion"}
    tis, holders = run.task_instances(), run.holders()
    owned_held = {job: sum(1 for key in owned if tis[key]["trigger"]["triggerer_id"] == job) for job in holders}
    victim_job = max(holders, key=lambda job: (owned_held[job], holders[job]))  # the one holding owned jobs
    victim = d.triggerer_of(victim_job)
    (survivor,) = set(d.triggerers) - {victim}
    d.signal(victim, signal.SIGSTOP)
    try:
        wait_for(
            f"{survivor} to adopt the waits of the frozen {victim}",
            lambda: _adopted(run, d, survivor),
            120,
            2,
        )
    finally:
        thawed = datetime.datetime.now(datetime.UTC)
        d.signal(victim, signal.SIGCONT)
    # Thawed, it heartbeats again, and in that same loop it learns it lost the triggers and drops them.
    wait_for(f"{victim} to heartbeat after SIGCONT", lambda: _heartbeat(d, victim_job) > thawed, 60)
    time.sleep(10)
    assert d.alive()[victim]
    assert run.all_deferred(), run.task_instances()
    cancelled_while_deferred = dict(run.cancels())
    run.finish()
    run.wait_ended()
    problems = run.problems()
    assert (cancelled_while_deferred, problems) == ({}, []), (
        f"{victim} held {owned_held[victim_job]} owned job(s); cancelled while their tasks were deferred: "
        f"{cancelled_while_deferred}; problems {problems}"
    )


def test_simulator_unreachable_for_two_minutes(world: World, start_run: Callable[..., FaultRun]) -> None:
    sim = world.sim
    run = start_run("outage", poke=1)
    run.wait_deferred()
    (poke,) = [wait for wait in run.waits if not wait.deferred]
    wait_for("the poke-mode sensor to poke", lambda: f"{poke.item_id}: running" in run.task_log(poke, 1), 120, 2)
    sim.stop()
    try:
        time.sleep(OUTAGE)
    finally:
        sim.start()
    assert run.all_deferred(), run.task_instances()
    assert run.task_instances()[poke.key]["state"] == "running"
    calls = sim.count()
    wait_for("the waits to poll again", lambda: sim.count() > calls, 120, 2)
    assert "poll failed" in run.trigger_log_text()  # the outage was felt, within the budget
    run.finish()
    run.wait_ended()
    assert run.problems() == []


def test_postgres_restarted_mid_wait(world: World, start_run: Callable[..., FaultRun]) -> None:
    d, postgres = world.deployment, world.stack.postgres
    assert postgres is not None
    run = start_run("postgres", poke=1)  # one wait in the worker too, heartbeating through the API server
    run.wait_deferred()
    postgres.restart()
    # Airflow's components reconnect; one caught by the restart with a query in flight exits, and is
    # started again here as a process supervisor (systemd, Kubernetes) would.
    time.sleep(10)
    restarted = d.restart_exited()
    if restarted:
        warnings.warn(f"exited when PostgreSQL restarted, started again: {', '.join(restarted)}", stacklevel=1)
    wait_for(
        "the deployment to be healthy",
        lambda: all(part["status"] == "healthy" for part in d.get("/api/v2/monitor/health").values()),
        120,
        2,
    )
    assert run.all_deferred(), (restarted, run.task_instances())
    run.finish()
    run.wait_ended()
    assert run.problems() == [], f"components that exited with the restart and were started again: {restarted}"


def test_celery_worker_killed_while_a_poke_sensor_runs(world: World, start_run: Callable[..., FaultRun]) -> None:
    d = world.deployment
    run = start_run("worker", poke=1)
    (poke,) = [wait for wait in run.waits if not wait.deferred]
    poke.tries = 2  # killed on try 1; retries=2 lets the scheduler run it again
    run.wait_deferred()
    wait_for("the poke-mode sensor to poke", lambda: f"{poke.item_id}: running" in run.task_log(poke, 1), 120, 2)
    d.kill(CELERY_WORKER)
    d.start(CELERY_WORKER)
    # The task's heartbeats stop with its worker: the scheduler fails try 1 and schedules try 2.
    wait_for(
        "the poke-mode sensor's second try to poke", lambda: f"{poke.item_id}: running" in run.task_log(poke, 2), 180, 2
    )
    assert run.all_deferred(), run.task_instances()
    run.finish()
    run.wait_ended()
    assert run.problems() == []


def test_marking_a_deferred_owned_task_failed_cancels_its_job(world: World, start_run: Callable[..., FaultRun]) -> None:
    d = world.deployment
    run = start_run("markfailed", posteketab=2, openreplay=2, owned=2, mobizon=2)
    run.wait_deferred()
    job = run.owned_jobs()[0]
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run.run_id}/taskInstances/owned_deletion/0"
    response = d.session.patch(d.url + path, json={"new_state": "failed"}, timeout=30)
    assert response.status_code == 200, response.text
    # A real kill: the trigger is cancelled by the user's action and cancels the job its task owns.
    wait_for(f"owned job {job} to be cancelled", lambda: run.cancels().get(job) == 1, 120, 2)
    assert world.sim.openreplay.current_status(job) == "cancelled"
    run.finish()
    run.wait_ended()
    assert run.problems(cancelled=frozenset({0})) == []


def test_no_api_key_in_any_log_after_the_faults(world: World) -> None:
    d, sim = world.deployment, world.sim
    assert world.runs and all(run.finished for run in world.runs), "runs after the fault tests"
    logs = d.all_logs() + world.stack.server_logs()
    # The scan covers what the faults wrote: every run's trigger logs, the restarted components' logs.
    for run in world.runs:
        assert any(f"run_id={run.run_id}" in str(path) and ".trigger." in path.name for path in logs), run.name
    names = {path.name for path in logs}
    assert f"{CELERY_WORKER}-1.log" in names and any(f"{name}-1.log" in names for name in d.triggerers), names
    keys = [sim.posteketab_token, sim.openreplay_api_key, sim.mobizon_api_key]
    assert secrets_in(logs, keys) == []
    assert all(key in str(d.env) for key in keys)  # the scan would have found them

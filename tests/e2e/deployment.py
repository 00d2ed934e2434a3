"""A real Airflow 3 deployment for the end-to-end tests: api-server, scheduler, dag-processor and
triggerer(s) as separate processes (plus a Celery worker with the CeleryExecutor), in a throwaway
AIRFLOW_HOME.

The quick shape is SQLite with the LocalExecutor and one triggerer; the production shape (see
``stacks``) is PostgreSQL, the CeleryExecutor on Redis and two triggerers. The tests talk to it only
through its REST API, as a user would. Every process it starts is stopped by :meth:`Deployment.stop`,
which the fixtures call also when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "example_dags"
#: The DAGs of the end-to-end tests themselves (the fault DAG), loaded next to the examples.
E2E_DAGS = Path(__file__).resolve().parent / "dags"
CELERY_WORKER = "celery-worker"
#: Worker processes of the Celery worker: the fault DAG starts tens of mapped tasks at once.
CELERY_CONCURRENCY = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    """Call ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (requests.RequestException, KeyError, ValueError) as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error!r})")


def secrets_in(files: Sequence[Path], keys: Sequence[str]) -> list[str]:
    """``path: abcd…`` for every key found in one of ``files`` (only the first characters are named)."""
    hits = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        hits += [f"{path}: {key[:4]}…" for key in keys if key in text]
    return hits


def _killpg(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        _killpg(proc.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        _killpg(proc.pid, signal.SIGTERM)


def _reap(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for ``proc``; SIGKILL its group if it outstays ``timeout``, and whatever it left behind there."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    _killpg(proc.pid, signal.SIGKILL)


def _bundles(folders: Sequence[Path]) -> str:
    """``[dag_processor] dag_bundle_config_list``: one local bundle per DAG folder (named for its path:
    "example_dags" itself is a name Airflow reserves)."""
    return json.dumps(
        [
            {
                "name": "-".join(folder.relative_to(ROOT).parts).replace("_", "-"),
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(folder), "refresh_interval": 5},
            }
            for folder in folders
        ]
    )


class Deployment:
    """The Airflow processes, their logs, and a small REST client."""

    def __init__(
        self,
        home: Path,
        connections: Mapping[str, str],
        extra_env: Mapping[str, str] | None = None,
        *,
        database_url: str | None = None,
        broker_url: str | None = None,
        triggerers: int = 1,
        dag_folders: Sequence[Path] = (DAGS,),
    ):
        """``database_url``: the metadata database (default SQLite in ``home``); ``broker_url``: a Redis
        URL, which makes it a CeleryExecutor deployment with a worker (default the LocalExecutor)."""
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = home / "component-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")},
            **connections,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "PROVIDER_TASKS_EXAMPLE_POLL_SECONDS": "2",
            "PYTHONPATH": os.pathsep.join(filter(None, [*map(str, dag_folders), os.environ.get("PYTHONPATH")])),
        }
        if len(dag_folders) == 1:
            self.env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dag_folders[0])
        else:
            self.env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = _bundles(dag_folders)
        if database_url is not None:
            self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = database_url
        if broker_url is not None:
            if database_url is None:
                raise ValueError("the CeleryExecutor keeps its results in the metadata database: give database_url")
            self.env.update(
                {
                    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                    "AIRFLOW__CORE__PARALLELISM": str(2 * CELERY_CONCURRENCY),
                    "AIRFLOW__CELERY__BROKER_URL": broker_url,
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database_url,
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CELERY_CONCURRENCY),
                }
            )
        self.env.update(extra_env or {})
        #: component name -> the arguments of ``airflow`` that run it. Everything binds 127.0.0.1: the log
        #: servers, which bind every interface, stay off (all processes share one AIRFLOW_HOME/logs anyway).
        self.commands: dict[str, list[str]] = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
        }
        self.triggerers = ["triggerer"] if triggerers == 1 else [f"triggerer-{n}" for n in range(1, triggerers + 1)]
        for name in self.triggerers:
            self.commands[name] = ["triggerer", "--skip-serve-logs"]
        if broker_url is not None:
            self.commands[CELERY_WORKER] = ["celery", "worker", "--concurrency", str(CELERY_CONCURRENCY)]
            self.commands[CELERY_WORKER] += ["--skip-serve-logs", "--pid", str(home / f"{CELERY_WORKER}.pid")]
        #: Each triggerer's job row carries its name as ``unixname`` (Airflow reads it with getpass, from
        #: LOGNAME): that is how a test tells which process holds which trigger.
        self.component_env = {name: {"LOGNAME": name} for name in self.triggerers}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        #: triggerer name -> ids of the jobs it had before its latest start (its current job is another).
        self._old_jobs: dict[str, set[int]] = {}
        self.session = requests.Session()

    # ------------------------------------------------------------------ processes
    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    def start(self, component: str) -> None:
        """Start ``component``; it boots in the background (:meth:`triggerer_job` waits for a triggerer)."""
        if component in self.triggerers:
            self._old_jobs[component] = self._jobs_of(component) if component in self._old_jobs else set()
        if component == CELERY_WORKER:  # a worker that was killed leaves its pid file behind
            Path(self.commands[component][-1]).unlink(missing_ok=True)
        log = (self.logs / f"{component}-{len(self.component_logs(component))}.log").open("wb")
        self.processes[component] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *self.commands[component]],
            env={**self.env, **self.component_env.get(component, {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def restart(self, *components: str) -> None:
        """Stop ``components`` together, then start them together."""
        stopping = [self.processes.pop(name) for name in components if name in self.processes]
        for proc in stopping:
            _terminate(proc)
        for proc in stopping:
            _reap(proc, 60)
        for name in components:
            self.start(name)

    def signal(self, component: str, signum: signal.Signals) -> None:
        """Send ``signum`` to every process of ``component`` (its process group: supervisor and children)."""
        os.killpg(self.processes[component].pid, signum)

    def kill(self, component: str) -> None:
        """SIGKILL ``component``'s processes, as an out-of-memory killer or a lost host would."""
        proc = self.processes.pop(component)
        _killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def stop_component(self, component: str, timeout: float = 60) -> None:
        proc = self.processes.pop(component, None)
        if proc is not None:
            _terminate(proc)
            _reap(proc, timeout)

    def boot(self) -> None:
        self.airflow("db", "migrate")
        for component in self.commands:
            self.start(component)
        wait_for("the API server", lambda: self.get("/api/v2/monitor/health").get("metadatabase"), 180)
        for triggerer in self.triggerers:
            self.triggerer_job(triggerer)

    def stop(self) -> None:
        processes, self.processes = list(self.processes.values()), {}
        for proc in processes:  # all at once, then wait for each
            _terminate(proc)
        for proc in processes:
            _reap(proc, 60)
        self.session.close()

    def restart_exited(self) -> list[str]:
        """Start again every component that exited, as a process supervisor (systemd, Kubernetes) would;
        return their names."""
        exited = [name for name, proc in self.processes.items() if proc.poll() is not None]
        for name in exited:
            self.stop_component(name)  # reaps it and whatever it left in its process group
            self.start(name)
        return exited

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.processes.items()}

    # ------------------------------------------------------------------ REST API
    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(self.url + path, params=params or None, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any) -> Any:
        response = self.session.post(self.url + path, json=body, timeout=30)
        if response.status_code >= 400:
            raise AssertionError(f"POST {path}: {response.status_code} {response.text}")
        return response.json()

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        wait_for(f"DAG {dag_id} to be parsed", lambda: self.get(f"/api/v2/dags/{dag_id}"), 180)
        run = self.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf or {})})
        return str(run["dag_run_id"])

    def jobs(self, job_type: str = "TriggererJob") -> list[dict[str, Any]]:
        return list(self.get("/api/v2/jobs", job_type=job_type, limit=100)["jobs"])

    def _jobs_of(self, triggerer: str) -> set[int]:
        return {job["id"] for job in self.jobs() if job["unixname"] == triggerer}

    def triggerer_job(self, triggerer: str, timeout: float = 180) -> int:
        """The id of ``triggerer``'s current job, the ``triggerer_id`` of the triggers it holds (waits for
        a triggerer just started to register it)."""

        def current() -> int | None:
            return max(self._jobs_of(triggerer) - self._old_jobs.get(triggerer, set()), default=None)

        return int(wait_for(f"{triggerer} to register its job", current, timeout))

    def triggerer_of(self, job_id: int) -> str:
        """The triggerer whose current job is ``job_id``."""
        return next(name for name in self.triggerers if self.triggerer_job(name) == job_id)

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        data = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti for ti in data["task_instances"]}

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.get(path, deserialize="true")["value"]

    def links(self, dag_id: str, run_id: str, task_id: str) -> dict[str, str]:
        data = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links")
        return dict(data["extra_links"])

    def component_logs(self, component: str) -> list[Path]:
        """What ``component`` printed, one file per start (``triggerer-1-0.log``, ``triggerer-1-1.log``...)."""
        return sorted(self.logs.glob(f"{component}-[0-9]*.log"))

    def all_logs(self) -> list[Path]:
        """Every task log and component log written so far."""
        return [
            path
            for path in self.home.rglob("*")
            if path.is_file()
            and path.suffix in (".log", ".json", "")
            and ("logs" in path.parts or path.parent == self.logs)
        ]

"""Runs of the fault DAG (``dags/e2e_faults.py``): what the simulator scripts for each wait, and what
the deployment must show once a run has ended.

A :class:`FaultRun` seeds its remote items in the simulator, every one held in a running state, and
triggers one run over them. The test applies its fault while the waits sit deferred, then
:meth:`FaultRun.finish` moves every item to the end the script gives it (most succeed; one of each
sensor's kind fails remotely), and :meth:`FaultRun.problems` lists whatever differs from that
script: a task state, a try number, a trigger that fired other than exactly one event, an owned
OpenReplay job that was cancelled, an API key in a log.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from airflow_provider_tasks.simulator import Simulator, Step

from .deployment import secrets_in, wait_for
from .stacks import Stack

__all__ = ["DAG_ID", "FaultRun", "Wait"]

DAG_ID = "e2e_faults"
FIRED = "Trigger fired event"
_MOBIZON_IDS = itertools.count(70_000)
ENDED = ("success", "failed")


@dataclass
class Wait:
    """One mapped task of the run and the end the simulator scripts for its remote item."""

    task_id: str
    map_index: int
    service: str
    item_id: str | int | None  # None for an owned job until the task has created it
    final: int | str
    succeeds: bool
    deferred: bool = True
    tries: int = 1  # the try_number it must end on

    @property
    def key(self) -> tuple[str, int]:
        return self.task_id, self.map_index


class FaultRun:
    """One run of the fault DAG: ``posteketab``, ``openreplay``, ``mobizon`` sensors, ``owned``
    deletion jobs (``OpenReplayDeleteUserDataOperator``, waiting for the job it created) and ``poke``
    poke-mode sensors, all deferrable but the last."""

    def __init__(
        self,
        sim: Simulator,
        stack: Stack,
        name: str,
        *,
        posteketab: int = 5,
        openreplay: int = 5,
        owned: int = 3,
        mobizon: int = 4,
        poke: int = 0,
    ) -> None:
        self.sim, self.stack, self.deployment = sim, stack, stack.deployment
        self.name = name
        self.waits: list[Wait] = []
        self.finished = False
        sim.openreplay.new_job_steps = [Step("scheduled")]  # an owned job waits for its nightly run
        conf: dict[str, list[Any]] = {"posteketab": [], "openreplay": [], "owned": [], "mobizon": [], "poke": []}
        # Index 0 of each sensor kind fails remotely; everything else succeeds.
        for index in range(posteketab):
            item = sim.posteketab.add_task(f"{name}-posteketab-{index}", task_type=2, steps=[Step(2)])
            conf["posteketab"].append(item)
            self.waits.append(Wait("posteketab_wait", index, "posteketab", item, 4 if index == 0 else 3, index != 0))
        for index in range(openreplay):
            job = sim.openreplay.add_job(user_id=f"{name}-sensor-{index}@example.com", steps=[Step("running")])
            conf["openreplay"].append(job)
            final = "failed" if index == 0 else "completed"
            self.waits.append(Wait("openreplay_wait", index, "openreplay", job, final, index != 0))
        for index in range(mobizon):
            # Ids of their own: the example DAGs wait for the simulator's first ones (5000, 5001...).
            task = sim.mobizon.add_task(next(_MOBIZON_IDS), steps=[Step(1, progress=10 * index)])
            conf["mobizon"].append(task)
            self.waits.append(Wait("mobizon_wait", index, "mobizon", task, 3 if index == 0 else 2, index != 0))
        for index in range(owned):
            conf["owned"].append(f"{name}-owned-{index}@example.com")
            self.waits.append(Wait("owned_deletion", index, "openreplay", None, "completed", True))
        for index in range(poke):
            item = sim.posteketab.add_task(f"{name}-poke-{index}", task_type=2, steps=[Step(2)])
            conf["poke"].append(item)
            self.waits.append(Wait("poke_wait", index, "posteketab", item, 3, True, deferred=False))
        self.owned_users = list(conf["owned"])
        self.run_id = self.deployment.trigger(DAG_ID, conf)

    # ------------------------------------------------------------------ what the deployment shows
    def task_instances(self) -> dict[tuple[str, int], dict[str, Any]]:
        data = self.deployment.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{self.run_id}/taskInstances", limit=100)
        return {(ti["task_id"], ti["map_index"]): ti for ti in data["task_instances"]}

    def deferred(self) -> list[Wait]:
        return [wait for wait in self.waits if wait.deferred]

    def all_deferred(self) -> bool:
        tis = self.task_instances()
        return all(tis.get(wait.key, {}).get("state") == "deferred" for wait in self.deferred())

    def holders(self) -> Counter[int]:
        """How many of the run's deferred waits each triggerer (by job id) holds."""
        tis = self.task_instances()
        return Counter(
            tis[wait.key]["trigger"]["triggerer_id"]
            for wait in self.deferred()
            if (tis.get(wait.key) or {}).get("trigger") and tis[wait.key]["trigger"]["triggerer_id"] is not None
        )

    def owned_jobs(self) -> dict[int, int]:
        """map index -> id of the OpenReplay job each owned task created (read from the simulator's API)."""
        sim = self.sim
        response = requests.get(
            f"{sim.openreplay_url}/public/{sim.openreplay_project_key}/jobs",
            params={"limit": 200},
            headers={"Authorization": f"Bearer {sim.openreplay_api_key}"},
            timeout=10,
        )
        response.raise_for_status()
        by_user = {job["referenceId"]: job["jobId"] for job in response.json()["data"]}
        return {index: by_user[user] for index, user in enumerate(self.owned_users) if user in by_user}

    def cancels(self) -> Counter[int]:
        """``DELETE .../jobs/{id}`` requests per owned job (job creation is a DELETE of ``/users/``)."""
        owned = {f"/jobs/{job}": job for job in self.owned_jobs().values()}
        return Counter(
            owned[suffix]
            for record in self.sim.requests
            if record.service == "openreplay" and record.method == "DELETE"
            for suffix in owned
            if record.path.endswith(suffix)
        )

    def fired_events(self) -> Counter[tuple[str, int, int]]:
        """Events fired per (task, map index, try), counted in every triggerer's logs.

        A trigger's lines go to its own file next to the task log, except those Airflow 3.3 writes
        after the trigger has finished: they land in the triggerer's own log (the trigger's log file is
        closed as soon as the trigger reports itself finished, and the rest of its lines arrive later on
        another channel). Each line is in exactly one of the two places, so both are counted.
        """
        name = re.compile(rf"{DAG_ID}/{re.escape(self.run_id)}/([^/]+)/(-?\d+)/(\d+) \(ID \d+\)")
        d = self.deployment
        files = [*self._run_logs().glob("task_id=*/map_index=*/attempt=*.log.trigger.*.log")]
        files += [
            d.logs / f"{n}-{g}.log" for n in d.triggerers for g in range(len(list(d.logs.glob(f"{n}-[0-9]*.log"))))
        ]
        fired: Counter[tuple[str, int, int]] = Counter()
        for path in files:
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if FIRED in line and (match := name.search(line)):
                    fired[match[1], int(match[2]), int(match[3])] += 1
        return fired

    def _run_logs(self) -> Path:
        return self.deployment.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={self.run_id}"

    def task_log(self, wait: Wait, attempt: int) -> str:
        path = self._run_logs() / f"task_id={wait.task_id}" / f"map_index={wait.map_index}" / f"attempt={attempt}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def trigger_log_text(self) -> str:
        """Every trigger log line of the run (their own files only)."""
        return "\n".join(
            path.read_text(errors="replace") for path in self._run_logs().glob("task_id=*/*/*.log.trigger.*.log")
        )

    # ------------------------------------------------------------------ driving it
    def wait_deferred(self, timeout: float = 300) -> None:
        wait_for(f"every wait of run {self.name!r} to be deferred", self.all_deferred, timeout, interval=2)

    def finish(self) -> None:
        """Move every remote item to the end the script gives it."""
        if self.finished:
            return
        self.finished = True
        for wait in self.waits:
            if wait.task_id == "owned_deletion":
                continue
            progress = 100 if (wait.service, wait.final) == ("mobizon", 2) else None
            self.sim.set_status(wait.service, wait.item_id, wait.final, progress=progress)
        for job in self.owned_jobs().values():
            if self.sim.openreplay.current_status(job) in ("scheduled", "running"):
                self.sim.set_status("openreplay", job, "completed")

    def state(self) -> str:
        return str(self.deployment.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{self.run_id}")["state"])

    def wait_ended(self, timeout: float = 300) -> None:
        wait_for(f"run {self.name!r} to end", lambda: self.state() in ENDED, timeout, interval=3)

    # ------------------------------------------------------------------ the verdict
    def problems(self, *, cancelled: frozenset[int] = frozenset()) -> list[str]:
        """Everything that differs from the script; ``cancelled``: map indexes of owned tasks really killed."""
        found: list[str] = []
        expected_run = "success" if all(wait.succeeds for wait in self.waits) else "failed"
        state = self.state()
        if state != expected_run:
            found.append(f"run ended {state}, expected {expected_run}")
        tis, fired = self.task_instances(), self.fired_events()
        for wait in self.waits:
            ti = tis.get(wait.key, {})
            succeeds = wait.succeeds and not (wait.task_id == "owned_deletion" and wait.map_index in cancelled)
            want = ("success" if succeeds else "failed", wait.tries)
            got = (ti.get("state"), ti.get("try_number"))
            if got != want:
                found.append(f"{wait.key}: ended {got[0]} on try {got[1]}, expected {want[0]} on try {want[1]}")
            events = {key: count for key, count in fired.items() if key[:2] == wait.key}
            want_events = {} if not succeeds and wait.task_id == "owned_deletion" else {(*wait.key, wait.tries): 1}
            if wait.deferred and events != want_events:
                found.append(f"{wait.key}: trigger events (task, map index, try): {events}, expected {want_events}")
        jobs = self.owned_jobs()
        cancels = self.cancels()
        for index, job in jobs.items():
            want_cancels = 1 if index in cancelled else 0
            if cancels.get(job, 0) != want_cancels:
                found.append(f"owned job {job} (map index {index}) cancelled {cancels.get(job, 0)} time(s)")
        if len(jobs) != len(self.owned_users):
            found.append(f"owned jobs created: {len(jobs)} of {len(self.owned_users)}")
        found += [f"secret in a log: {hit}" for hit in self.leaks()]
        return found

    def leaks(self) -> list[str]:
        sim = self.sim
        keys = [sim.posteketab_token, sim.openreplay_api_key, sim.mobizon_api_key]
        return secrets_in(self.deployment.all_logs() + self.stack.server_logs(), keys)

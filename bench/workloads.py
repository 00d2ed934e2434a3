"""The wait workloads: which items a run waits on, how the simulator starts, how items end.

A :class:`WaitRun` is one workload (service) at one size through one implementation:

``ours``
    the package's trigger of that service (coalesced pollers, one shared HTTP session);
``http_sensor``
    the HTTP provider's ``HttpSensorTrigger`` (OpenReplay only: it waits for a non-404 answer, and
    Post-e-Ketab and Mobizon answer HTTP 200 to everything);
``per_wait``
    :class:`bench.peers.PerWaitPollingTrigger`, written like the dbt Cloud provider's trigger.
"""

from __future__ import annotations

import importlib.util
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from bench import settings

__all__ = ["IMPLEMENTATIONS", "WORKLOADS", "WaitRun", "skipped_reason", "wait_runs"]

WORKLOADS: tuple[str, ...] = ("openreplay", "posteketab", "mobizon")
IMPLEMENTATIONS: tuple[str, ...] = ("ours", "http_sensor", "per_wait")
FIRST_OPENREPLAY_JOB = 1000  # the simulator's first jobId
FIRST_MOBIZON_TASK = 5000
_TERMINAL: dict[str, int | str] = {"openreplay": "completed", "posteketab": 3, "mobizon": 2}
_WAITING_STEP: dict[str, dict[str, Any]] = {
    "openreplay": {"status": "scheduled"},
    "posteketab": {"status": 2},
    "mobizon": {"status": 1, "progress": 50},
}


@dataclass(frozen=True)
class WaitRun:
    """One measured run."""

    workload: str
    impl: str
    waits: int
    #: The waits start uniformly over ``settings.STAGGER_INTERVALS`` poll intervals instead of at once.
    staggered: bool = False

    @property
    def name(self) -> str:
        return f"{self.workload}/{self.impl}/{self.waits}" + ("/staggered" if self.staggered else "")

    @property
    def stagger_s(self) -> float:
        return settings.STAGGER_INTERVALS * self.poll_interval if self.staggered else 0.0

    @property
    def poll_interval(self) -> float:
        return settings.MOBIZON_POLL_INTERVAL if self.workload == "mobizon" else settings.POLL_INTERVAL

    @property
    def rounds(self) -> int:
        return settings.MOBIZON_MEASURED_ROUNDS if self.workload == "mobizon" else settings.MEASURED_ROUNDS

    @property
    def finish_timeout(self) -> float:
        if self.workload == "mobizon" and self.impl != "ours":
            return settings.MOBIZON_PEER_FINISH_TIMEOUT
        return settings.FINISH_TIMEOUT

    def items(self) -> list[str | int]:
        """The distinct remote items waited on."""
        if self.workload == "openreplay":
            return [FIRST_OPENREPLAY_JOB + index for index in range(self.waits)]
        if self.workload == "posteketab":
            return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-task-{index}")) for index in range(self.waits)]
        return [FIRST_MOBIZON_TASK + index for index in range(min(self.waits, settings.MOBIZON_DISTINCT_TASKS))]

    def wait_items(self) -> list[str | int]:
        """The item of every wait (Mobizon: many identical waits per task)."""
        items = self.items()
        return [items[index % len(items)] for index in range(self.waits)]

    def scenario(self) -> dict[str, Any] | None:
        """The simulator's starting items: every item waiting, until the driver ends it."""
        if self.impl == "http_sensor":
            return None  # its waits last until the job exists: the driver creates them at the end
        step = [_WAITING_STEP[self.workload]]
        if self.workload == "openreplay":
            return {"openreplay": [{"user_id": f"user-{job}@example.com", "steps": step} for job in self.items()]}
        return {self.workload: [{"task_id": item, "steps": step} for item in self.items()]}

    @property
    def terminal_status(self) -> int | str:
        return _TERMINAL[self.workload]

    def client_config(self, project_key: str) -> dict[str, Any]:
        """What :mod:`bench.client` needs to run the waits."""
        return {
            **asdict(self),
            "wait_items": self.wait_items(),
            "poll_interval": self.poll_interval,
            "warmup_rounds": settings.WARMUP_ROUNDS,
            "rounds": self.rounds,
            "finish_timeout": self.finish_timeout,
            "peer_concurrency": settings.PEER_CONCURRENCY,
            "project_key": project_key,
            "track_deliveries": self.workload == "mobizon",
            "stagger_s": self.stagger_s,
        }


def skipped_reason(run: WaitRun) -> str | None:
    """Why ``run`` is not measured (None: it is)."""
    if run.impl == "http_sensor" and run.workload != "openreplay":
        return (
            "HttpSensorTrigger only waits for an answer that is not a 404; this service answers HTTP 200 "
            "to every status read, so the trigger would fire at once"
        )
    if run.impl == "http_sensor" and importlib.util.find_spec("airflow.providers.http") is None:
        return "apache-airflow-providers-http is not installed: pip install -e '.[bench]'"
    if run.impl == "http_sensor" and run.waits > settings.HTTP_SENSOR_MAX_WAITS:
        return (
            f"capped at N={settings.HTTP_SENSOR_MAX_WAITS:,}: HttpSensorTrigger opens a new session and TCP "
            "connection for every request with no bound we can set from outside; at N=10,000 on this 2-core "
            "machine its first round does not complete within the warm-up and window (a trial answered 0 "
            "requests in the 6 s window), and a triggerer runs 1,000 triggers by default ([triggerer] capacity)"
        )
    if run.workload == "mobizon" and run.impl != "ours" and run.waits > settings.MOBIZON_PEER_WAITS:
        return (
            f"capped at N={settings.MOBIZON_PEER_WAITS}: the per-wait peer sends one GetStatus per wait per "
            "second to a key that allows one per second"
        )
    return None


def wait_runs(
    sizes: tuple[int, ...] = settings.SIZES, staggered: tuple[int, ...] = settings.STAGGERED_SIZES
) -> list[WaitRun]:
    """Every run of a full benchmark, in order (skipped ones included: see :func:`skipped_reason`):
    every wait started at once, then the staggered-arrival runs of OpenReplay and Post-e-Ketab."""
    runs: list[WaitRun] = []
    for workload in WORKLOADS:
        for waits in sizes:
            runs += [WaitRun(workload, impl, waits) for impl in IMPLEMENTATIONS]
    for workload in ("openreplay", "posteketab"):
        for waits in staggered:
            runs += [WaitRun(workload, impl, waits, staggered=True) for impl in IMPLEMENTATIONS]
    return runs

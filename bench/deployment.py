"""``python -m bench.deployment``: this provider's deferrable waits against ``HttpSensor(deferrable=True)``
in a real Airflow deployment (``make bench-deployment``; writes ``bench/results/deployment.json``).

The quick shape of ``tests/e2e/deployment.py``: SQLite, the LocalExecutor, one triggerer, api-server,
scheduler and dag-processor as processes; the simulator serves OpenReplay from this process. For each
DAG of ``bench/dags/`` (N mapped deferrable waits, poke interval 5 s) it

0. creates the N jobs, then ``--newer-jobs`` other jobs of the project above them in the list (the
   waited ones sit on its last pages, as in a project with other work going on);
1. triggers a run: the LocalExecutor's slots start the mapped tasks a few at a time, so the waits
   reach the triggerer over several intervals, as in the field;
2. once all N are deferred (and one more interval has passed), measures the steady state for
   ``--intervals`` intervals: the simulator's requests per interval, and the triggerer's CPU
   (utime+stime of its process group from ``/proc``, reaped children included) per wait per round;
3. ends the jobs (ours: completed, spread over one interval; HttpSensor: the jobs are created),
   waits for the run, checks every task succeeded and takes the detection latency from the
   triggerer's "Trigger fired event" lines.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow_provider_tasks.simulator import Simulator, Step
from bench.deployment_phase import Phase, idle_cpu_s, run_phase
from bench.machine import describe_machine
from bench.peers import HTTP_CONN_ID, http_connection
from bench.report import write_json
from bench.stats import rounded
from tests.e2e.deployment import Deployment

__all__ = ["main"]

DAGS = Path(__file__).resolve().parent / "dags"
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "deployment.json"
FIRST_JOB = 1000  # the simulator's first jobId
#: Our triggerer CPU per wait per round must be at most this share of HttpSensor's.
CPU_RATIO_BOUND = 0.1
LATENCY_SLACK_S = 1.0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.deployment", description=__doc__)
    parser.add_argument("--waits", type=int, default=300, help="mapped waits per DAG (default %(default)s)")
    parser.add_argument("--interval", type=float, default=5.0, help="poke interval, s (default %(default)s)")
    parser.add_argument("--intervals", type=int, default=8, help="steady intervals measured (default %(default)s)")
    parser.add_argument("--parallelism", type=int, default=16, help="LocalExecutor slots (default %(default)s)")
    parser.add_argument(
        "--newer-jobs",
        type=int,
        default=600,
        help="other jobs of the project created after the waited ones, listed above them (default %(default)s)",
    )
    parser.add_argument("--only", choices=("ours", "http_sensor"), help="run one DAG only")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    return parser.parse_args(argv)


def _progress(text: str) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {text}", file=sys.stderr, flush=True)


def _targets(args: argparse.Namespace, phases: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    ours, peer = phases.get("ours"), phases.get("http_sensor")
    targets: list[dict[str, Any]] = []
    if ours is not None:
        listed = args.waits + args.newer_jobs
        bound = math.ceil(listed / 200) + 1
        figure = ours["steady"]["requests_per_interval_max"]
        name = f"OpenReplay: requests per interval in steady state (max; {listed} jobs listed)"
        targets.append(_target(name, figure, bound))
        latency = ours["finish"]["detection_latency_s"]["max"]
        targets.append(_target("OpenReplay: detection latency (max)", latency, args.interval + LATENCY_SLACK_S))
        targets.append(_target("every task succeeded", float(ours["finish"]["succeeded"]), float(args.waits), ">="))
    if ours is not None and peer is not None:
        figure = ours["steady"]["cpu_per_wait_per_round_ms"]
        bound = rounded(CPU_RATIO_BOUND * peer["steady"]["cpu_per_wait_per_round_ms"], 4)
        targets.append(_target("triggerer CPU per wait per round, at most 1/10 of HttpSensor's", figure, bound))
    return targets


def _blocked_notices(deployment: Deployment) -> list[str]:
    """Airflow's watchdog lines for a triggerer loop held over 0.2 s (issue 9.7), from both phases."""
    return [
        line.strip()[:200]
        for name in deployment.triggerers
        for path in deployment.component_logs(name)
        for line in path.read_text(errors="replace").splitlines()
        if "async thread was blocked" in line
    ]


def _target(name: str, figure: float | None, bound: float | None, comparison: str = "<=") -> dict[str, Any]:
    met = figure is not None and bound is not None and (figure <= bound if comparison == "<=" else figure >= bound)
    return {"name": name, "figure": figure, "bound": bound, "comparison": comparison, "met": met}


def _ratios(phases: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    ours, peer = phases.get("ours"), phases.get("http_sensor")
    if ours is None or peer is None:
        return {}
    out: dict[str, float | None] = {}
    for key in ("requests_per_interval_mean", "cpu_per_wait_per_round_ms"):
        mine, theirs = ours["steady"][key], peer["steady"][key]
        out[key] = rounded(mine / theirs, 4) if mine is not None and theirs else None
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    started = time.monotonic()
    impls = [args.only] if args.only else ["ours", "http_sensor"]
    phases: dict[str, dict[str, Any]] = {}
    windows: dict[str, tuple[str, str]] = {}
    with Simulator(mobizon_rate_limit=None) as sim, tempfile.TemporaryDirectory(prefix="bench-deployment-") as home:
        scheduled = [Step("scheduled")]
        ids = [sim.openreplay.add_job(user_id=f"bench-{n}@example.com", steps=scheduled) for n in range(args.waits)]
        if ids[0] != FIRST_JOB:
            raise RuntimeError(f"the simulator's first job is {ids[0]}, the DAG expects {FIRST_JOB}")
        for n in range(args.newer_jobs):  # the project's other jobs: the waited ones sit deep in the list
            sim.openreplay.add_job(user_id=f"other-{n}@example.com", steps=[Step("completed")])
        http_first = FIRST_JOB + args.waits + args.newer_jobs  # HttpSensor's jobs do not exist yet
        openreplay = json.loads(sim.env()["AIRFLOW_CONN_OPENREPLAY_DEFAULT"])
        env = {
            "AIRFLOW__CORE__PARALLELISM": str(args.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(args.waits),
            "BENCH_DEPLOYMENT_WAITS": str(args.waits),
            "BENCH_DEPLOYMENT_INTERVAL": str(args.interval),
            "BENCH_DEPLOYMENT_FIRST_JOB": str(FIRST_JOB),
            "BENCH_DEPLOYMENT_HTTP_FIRST_JOB": str(http_first),
            "BENCH_DEPLOYMENT_PROJECT": sim.openreplay_project_key,
        }
        connections = {**sim.env(), f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": http_connection(openreplay)}
        deployment = Deployment(Path(home), connections, env, dag_folders=(DAGS,))
        try:
            _progress("booting the deployment (SQLite, LocalExecutor, one triggerer)")
            deployment.boot()
            time.sleep(10.0)  # the dag-processor's first parse settles
            idle = idle_cpu_s(deployment, args.intervals * args.interval)
            _progress(f"idle triggerer: {idle:.2f} s CPU in {args.intervals * args.interval:g} s")
            for impl in impls:
                first = FIRST_JOB if impl == "ours" else http_first
                phase = Phase(impl, f"bench_{impl}", args.waits, args.interval, args.intervals, ids, first)
                began = datetime.datetime.now(datetime.UTC).isoformat()
                phases[impl] = run_phase(deployment, sim, phase, idle, _progress)
                windows[impl] = (began, datetime.datetime.now(datetime.UTC).isoformat())
        finally:
            deployment.stop()
            blocked = _blocked_notices(deployment)
    for impl, (began, ended) in windows.items():  # the notice lines start with their ISO timestamp
        phases[impl]["blocked_loop_notices"] = [line for line in blocked if began <= line[:26] + "+00:00" <= ended]
    report: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(time.monotonic() - started, 1),
        "machine": describe_machine(),
        "deployment": (
            f"quick shape of tests/e2e/deployment.py: SQLite, LocalExecutor (parallelism {args.parallelism}), "
            "one triggerer, api-server, scheduler and dag-processor as processes; simulator on 127.0.0.1"
        ),
        "settings": {key: value for key, value in vars(args).items() if key != "output"},
        "phases": phases,
        "ratio_ours_to_http_sensor": _ratios(phases),
        "blocked_loop_notices": blocked,
        "targets": [
            *_targets(args, phases),
            _target(
                "triggerer 'async thread was blocked' notices during our waits",
                float(len(phases.get("ours", {}).get("blocked_loop_notices", []))),
                0.0,
            ),
        ],
    }
    write_json(args.output, report)
    for target in report["targets"]:
        mark = "met" if target["met"] else "MISSED"
        print(f"{mark:6} {target['name']}: {target['figure']} {target['comparison']} {target['bound']}")
    print(f"ratios ours/HttpSensor: {report['ratio_ours_to_http_sensor']}; written to {args.output}")
    return 0 if all(target["met"] for target in report["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.reschedule_floor``: at which ``poke_interval`` Airflow stops failing rescheduled sensors.

In a real Airflow deployment (the quick shape of ``tests/e2e``: SQLite, LocalExecutor, one of each
component), Airflow's own ``PythonSensor`` runs in reschedule mode at each interval given, several DAG
runs at once, each sensor poking three times (two reschedules). A try the scheduler marks failed
although the sensor only rescheduled is Airflow's race (apache/airflow#71172): the executor's success
for one poke reaches the scheduler after the next poke was queued. The figures (runs, failed tries per
interval) go to ``bench/results/reschedule_floor.json``; our sensors' ``RESCHEDULE_MIN_INTERVAL`` sits
above the largest interval that failed, with a margin.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.machine import describe_machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from e2e.deployment import Deployment, wait_for  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "results" / "reschedule_floor.json"


def _measure(d: Deployment, interval: float, runs: int) -> dict[str, Any]:
    dag_id = f"reschedule_floor_{interval:g}"
    run_ids = [d.trigger(dag_id) for _ in range(runs)]
    states = {}
    for run_id in run_ids:
        states[run_id] = wait_for(
            f"{dag_id} {run_id}",
            lambda run_id=run_id: (s := d.run_state(dag_id, run_id)) in ("success", "failed") and s,
            60 * interval + 300,
            2,
        )
    tries = [ti for run_id in run_ids for ti in d.task_instances(dag_id, run_id).values()]
    failed = [ti for ti in tries if ti["state"] != "success"]
    return {
        "poke_interval_s": interval,
        "dag_runs": runs,
        "sensor_tries": len(tries),
        "failed_tries": len(failed),
        "failed_runs": sum(state != "success" for state in states.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reschedule_floor", description=__doc__)
    parser.add_argument("--intervals", default="5,8,15", help="poke intervals in seconds (default %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="DAG runs at once per interval (default %(default)s)")
    parser.add_argument("--sensors", type=int, default=4, help="sensors per DAG run (default %(default)s)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    intervals = [float(value) for value in args.intervals.split(",")]
    home = Path(tempfile.mkdtemp(prefix="airflow-bench-reschedule-"))
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(Path(__file__).resolve().parent / "dags" / "reschedule_floor.py", dags)
    env = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "RESCHEDULE_FLOOR_INTERVALS": ",".join(f"{value:g}" for value in intervals),
        "RESCHEDULE_FLOOR_SENSORS": str(args.sensors),
    }
    d = Deployment(home, {}, extra_env=env)
    results = []
    try:
        d.boot()
        for interval in intervals:
            result = _measure(d, interval, args.runs)
            print(f"poke_interval {interval:g} s: {result['failed_tries']} of {result['sensor_tries']} tries failed")
            results.append(result)
    finally:
        d.stop()
        shutil.rmtree(home, ignore_errors=True)
    from airflow_provider_tasks.sensors.base import RESCHEDULE_MIN_INTERVAL

    report = {
        "what": "Airflow's PythonSensor in reschedule mode, 3 pokes each, in a real deployment (LocalExecutor)",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "reschedule_min_interval_s": RESCHEDULE_MIN_INTERVAL,
        "intervals": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m bench``: run every measurement, print the tables, write ``bench/results/latest.json``."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

from bench import settings
from bench.imports import measure_imports
from bench.machine import describe_machine
from bench.report import METHOD_NOTES, comparison_table, targets_table, write_json
from bench.targets import evaluate
from bench.task_result import measure_task_result
from bench.waits import measure_wait_run
from bench.workloads import WaitRun, skipped_reason, wait_runs

__all__ = ["main"]

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _guarded(label: str, measurement: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = await measurement
    except Exception as error:  # one failed measurement must not lose the others
        result = {"error": f"{type(error).__name__}: {error}"}
    failure = f"  FAILED {result['error']}" if "error" in result else ""
    _progress(f"  {label}: {time.monotonic() - started:.1f} s{failure}")
    return result


async def _measure_waits(workdir: Path, sizes: tuple[int, ...], staggered: tuple[int, ...]) -> list[dict[str, Any]]:
    runs = wait_runs(sizes, staggered)
    results: list[dict[str, Any]] = []
    for number, run in enumerate(runs, start=1):
        identity = {"name": run.name, "workload": run.workload, "impl": run.impl, "waits": run.waits}
        identity["staggered"] = run.staggered
        reason = skipped_reason(run)
        if reason is not None:
            results.append({**identity, "skipped": reason})
            continue
        label = f"[{number:2}/{len(runs)}] {run.name}"
        results.append({**identity, **await _guarded(label, _one_run(run, workdir))})
    return results


async def _one_run(run: WaitRun, workdir: Path) -> dict[str, Any]:
    return await measure_wait_run(run, workdir / run.name.replace("/", "-"))


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(str(size) for size in settings.SIZES),
        help="comma-separated numbers of concurrent waits (default: %(default)s)",
    )
    parser.add_argument(
        "--staggered-sizes",
        default=",".join(str(size) for size in settings.STAGGERED_SIZES),
        help="comma-separated sizes of the staggered-arrival runs (default: %(default)s)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON report (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, help="keep the processes' logs here (default: a temporary folder)")
    return parser.parse_args(argv)


async def _measure_all(workdir: Path, sizes: tuple[int, ...], staggered: tuple[int, ...]) -> dict[str, Any]:
    _progress(f"Concurrent waits (sizes {', '.join(f'{size:,}' for size in sizes)}; staggered {staggered}):")
    waits = await _measure_waits(workdir / "waits", sizes, staggered)
    _progress("Import cost and the 100,000-row task_result:")
    imports = await _guarded("imports", measure_imports(workdir / "imports"))
    task_result = await _guarded("task_result", measure_task_result(workdir / "task-result"))
    return {"waits": waits, "imports": imports, "task_result": task_result}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    sizes = tuple(int(size) for size in args.sizes.split(",") if size.strip())
    staggered = tuple(int(size) for size in args.staggered_sizes.split(",") if size.strip())
    started = time.monotonic()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        measurements = asyncio.run(_measure_all(args.workdir, sizes, staggered))
    else:
        with tempfile.TemporaryDirectory(prefix="airflow-provider-tasks-bench-") as workdir:
            measurements = asyncio.run(_measure_all(Path(workdir), sizes, staggered))
    wall = time.monotonic() - started
    targets = evaluate(measurements["waits"], measurements["imports"], measurements["task_result"])
    skipped = [f"{run['name']}: {run['skipped']}" for run in measurements["waits"] if run.get("skipped")]
    failed = [f"{run['name']}: {run['error']}" for run in measurements["waits"] if run.get("error")]
    notes = [*METHOD_NOTES, *(f"Not run: {line}" for line in skipped), *(f"Failed: {line}" for line in failed)]
    met = sum(target.met for target in targets)
    report: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 1),
        "machine": describe_machine(),
        "settings": {name: value for name, value in vars(settings).items() if name.isupper()},
        "summary": {"met": met, "missed": len(targets) - met},
        "targets": [target.to_json() for target in targets],
        "measurements": measurements,
        "notes": notes,
    }
    write_json(args.output, report)
    print("\nConcurrent waits: ours against the peers\n")
    measured = [run for run in measurements["waits"] if not run.get("skipped")]
    print(comparison_table([run for run in measured if not run.get("staggered")]))
    print(f"\nStaggered arrivals (waits start over {settings.STAGGER_INTERVALS} intervals)\n")
    print(comparison_table([run for run in measured if run.get("staggered")]))
    print("\nTargets\n")
    print(targets_table(targets))
    print("\nNotes")
    for note in notes:
        print(f"- {note}")
    print(f"\n{met} target(s) met, {len(targets) - met} missed; wall time {wall:.0f} s; written to {args.output}")
    return 0

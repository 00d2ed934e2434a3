"""A 100,000-row Post-e-Ketab ``task_result`` through ``PostEKetabTaskResultOperator``, with and
without ``output_path`` (each in a fresh subprocess against the simulator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import settings
from bench.simproc import running_simulator
from bench.stats import rounded
from bench.subprocesses import base_env, measuring_process

__all__ = ["TASK_ID", "measure_task_result", "result_rows"]

TASK_ID = "bench-100k-rows"
_TIMEOUT = 300.0
_NAMES = ("زهرا احمدی", "علی رضایی", "مریم کریمی", "حسین محمدی", "فاطمه حسینی")
_OK = "سفارش با موفقیت ثبت شد."
_FAILED = "شهر مورد نظر یافت نشد."


def result_rows(count: int) -> list[dict[str, Any]]:
    """Rows shaped like a type-0 task's (SPEC §5.1); one in a hundred failed."""
    return [
        {
            "local_id": index,
            "full_name": _NAMES[index % len(_NAMES)],
            "province": 8 + index % 23,
            "city": 1 + index % 300,
            "message": _FAILED if index % 100 == 99 else _OK,
            "is_success": index % 100 != 99,
        }
        for index in range(1, count + 1)
    ]


async def measure_task_result(workdir: Path, rows: int = settings.RESULT_ROWS) -> dict[str, Any]:
    """Time and peak memory of the operator, each way, and the size of the rows' JSON."""
    workdir.mkdir(parents=True, exist_ok=True)
    task_result = result_rows(rows)
    json_bytes = len(json.dumps(task_result, ensure_ascii=False).encode("utf-8"))  # as the simulator sends it
    scenario = {"posteketab": [{"task_id": TASK_ID, "steps": [{"status": 3}], "task_result": task_result}]}
    del task_result
    output = workdir / "rows.jsonl"
    runs: dict[str, Any] = {}
    async with running_simulator(workdir, scenario) as sim:
        env = {**base_env(workdir / "airflow-home"), **sim.env}
        for label, args in (("with_output_path", [TASK_ID, output.as_uri()]), ("without_output_path", [TASK_ID])):
            async with measuring_process("bench.operator_probe", args, env, workdir / "operator.log") as probe:
                message = await probe.expect("operator", _TIMEOUT)
            runs[label] = {
                "seconds": rounded(message["seconds"], 3),
                "rows": message["rows"],
                "result": message["result_kind"],
                "peak_memory_mb": rounded(message["peak_growth_bytes"] / 2**20, 1),
                "peak_memory_to_json": rounded(message["peak_growth_bytes"] / json_bytes, 2),
                "process_peak_rss_mb": rounded(message["peak_rss_after_bytes"] / 2**20, 1),
                "peak_reset_before_execute": message["peak_reset"],
            }
    runs["with_output_path"]["output_bytes"] = output.stat().st_size if output.exists() else None
    output.unlink(missing_ok=True)
    return {"rows": rows, "json_mb": rounded(json_bytes / 2**20, 2), "json_bytes": json_bytes, **runs}

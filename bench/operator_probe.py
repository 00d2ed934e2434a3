"""Subprocess entry: one ``PostEKetabTaskResultOperator.execute`` on a big task, timed and weighed.

``python -m bench.operator_probe TASK_ID [OUTPUT_URL]`` (the default connection points at the
simulator). Peak memory is the growth of the peak RSS (reset just before) over the RSS just before
``execute`` (see :mod:`bench.memory`).
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.memory import current_rss_bytes, peak_rss_bytes, reset_peak
from bench.protocol import emit

__all__ = ["main"]


def main(argv: Sequence[str]) -> int:
    task_id = argv[0]
    output = argv[1] if len(argv) > 1 else None
    from airflow_provider_tasks.operators.posteketab import PostEKetabTaskResultOperator
    from airflow_provider_tasks.testing import FakeTaskInstance

    operator = PostEKetabTaskResultOperator(
        task_id="task_result", posteketab_task_id=task_id, deferrable=False, output_path=output
    )
    context: Any = {"ti": FakeTaskInstance()}
    gc.collect()
    peak_before = peak_rss_bytes()
    peak_reset = reset_peak()  # so that the peak after execute is execute's own
    before = current_rss_bytes()
    start = time.perf_counter()
    result = operator.execute(context)
    elapsed = time.perf_counter() - start
    peak_after = peak_rss_bytes()
    rows = result["rows"] if isinstance(result, dict) else len(result)
    emit(
        "operator",
        seconds=elapsed,
        rows=rows,
        rss_before_bytes=before,
        peak_rss_before_bytes=peak_before,
        peak_rss_after_bytes=peak_after,
        peak_growth_bytes=peak_after - before,
        peak_reset=peak_reset,
        result_kind="summary" if isinstance(result, dict) else "rows",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

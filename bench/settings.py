"""What the benchmark runs, and the bounds it holds the package to (issue 4)."""

from __future__ import annotations

import math

#: Concurrent waits of the OpenReplay and Post-e-Ketab workloads (and of Mobizon's identical waits).
SIZES: tuple[int, ...] = (100, 1_000, 10_000)
#: Seconds between two polls of one wait (OpenReplay, Post-e-Ketab).
POLL_INTERVAL = 2.0
#: Mobizon's smallest allowed interval (one GetStatus per second per key).
MOBIZON_POLL_INTERVAL = 1.0
#: Distinct Mobizon task ids the identical waits are spread over.
MOBIZON_DISTINCT_TASKS = 4
#: Staggered-arrival runs: their waits start uniformly over this many poll intervals (as mapped tasks
#: reach a triggerer a few at a time), at these sizes; the window opens once all have started.
STAGGER_INTERVALS = 3
STAGGERED_SIZES: tuple[int, ...] = (1_000,)
#: Poll rounds before the measured window (connection set-up, first reads).
WARMUP_ROUNDS = 2
#: Poll rounds in the measured window.
MEASURED_ROUNDS = 3
MOBIZON_MEASURED_ROUNDS = 2
#: How long a client may take, once its items are terminal, for every wait to fire.
FINISH_TIMEOUT = 40.0
#: In-flight requests of the per-wait peer at most (a real triggerer is bounded by file descriptors).
PEER_CONCURRENCY = 500
#: HttpSensorTrigger opens a session and a TCP connection per request, unbounded: it runs up to this size.
HTTP_SENSOR_MAX_WAITS = 1_000
#: The Mobizon peer floods the key (one call per wait per second): it runs at this size only.
MOBIZON_PEER_WAITS = 100
#: Seconds a Mobizon peer is given to see its tasks finish (it cannot: the key allows 1 call/s).
MOBIZON_PEER_FINISH_TIMEOUT = 15.0

#: Page sizes the package reads status lists with.
OPENREPLAY_PAGE_SIZE = 200
POSTEKETAB_PAGE_SIZE = 100

#: Target bounds.
RSS_BOUND_MB = 500.0
RSS_BOUND_WAITS = 10_000
CPU_RATIO_BOUND = 0.5
LATENCY_SLACK_S = 1.0
IMPORT_BOUND_MS = 50.0
MEMORY_RATIO_BOUND = 3.0
#: Least seconds between two GetStatus calls of one key.
MOBIZON_MIN_GAP_S = 1.0

#: Import cost: fresh interpreters per measurement (the median is kept).
IMPORT_RUNS = 5
#: Rows of the Post-e-Ketab task_result pushed through the operator.
RESULT_ROWS = 100_000


def openreplay_request_bound(waits: int) -> int:
    """At most ceil(N/200)+1 requests per poll round for N waiting jobs of one project."""
    return math.ceil(waits / OPENREPLAY_PAGE_SIZE) + 1


def posteketab_request_bound(listed: int) -> int:
    """At most ceil(tasks listed/page size)+1 list requests per round (detail requests come on top)."""
    return math.ceil(listed / POSTEKETAB_PAGE_SIZE) + 1

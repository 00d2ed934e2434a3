"""The DAGs of ``python -m bench.deployment``: N mapped deferrable waits on OpenReplay jobs, once with
this provider's ``OpenReplayJobSensor`` and once with the HTTP provider's ``HttpSensor``.

The jobs the first DAG waits on exist and stay ``scheduled`` until the benchmark completes them; the
second DAG's URLs answer 404 until the benchmark creates those jobs (``HttpSensor`` waits for an
answer that is not a 404). Sizes and ids come from the benchmark's environment.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor

WAITS = int(os.environ.get("BENCH_DEPLOYMENT_WAITS", "300"))
INTERVAL = float(os.environ.get("BENCH_DEPLOYMENT_INTERVAL", "5"))
FIRST_JOB = int(os.environ.get("BENCH_DEPLOYMENT_FIRST_JOB", "1000"))
HTTP_FIRST_JOB = int(os.environ.get("BENCH_DEPLOYMENT_HTTP_FIRST_JOB", str(FIRST_JOB + WAITS)))
PROJECT = os.environ.get("BENCH_DEPLOYMENT_PROJECT", "simproject")
HTTP_CONN_ID = "openreplay_http"

with DAG("bench_ours", schedule=None, max_active_tasks=WAITS, tags=["bench"]):
    OpenReplayJobSensor.partial(
        task_id="wait",
        poke_interval=INTERVAL,
        deferrable=True,
        timeout=3600,
    ).expand(job_id=list(range(FIRST_JOB, FIRST_JOB + WAITS)))

try:
    from airflow.providers.http.sensors.http import HttpSensor
except ImportError:  # the HTTP provider is missing: only our DAG
    pass
else:
    with DAG("bench_http_sensor", schedule=None, max_active_tasks=WAITS, tags=["bench"]):
        HttpSensor.partial(
            task_id="wait",
            http_conn_id=HTTP_CONN_ID,
            method="GET",
            poke_interval=INTERVAL,
            deferrable=True,
            timeout=3600,
        ).expand(endpoint=[f"public/{PROJECT}/jobs/{job}" for job in range(HTTP_FIRST_JOB, HTTP_FIRST_JOB + WAITS)])

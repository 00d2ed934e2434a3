"""Values shared by the example DAGs.

The ids default to the tasks of the simulator's ``demo`` scenario, so ``make demo`` runs these DAGs
end to end; in production you pass your own ids as DAG params (or from an upstream task's XCom).
Poll intervals come from ``PROVIDER_TASKS_EXAMPLE_POLL_SECONDS`` so the demo does not wait for
production intervals; unset, each sensor keeps its service's default.
"""

from __future__ import annotations

import os

import pendulum

START = pendulum.datetime(2026, 1, 1, tz="UTC")
DEMO_IMPORT_TASK = "5f1c2d3e-0000-4000-8000-000000000001"
DEMO_EXPORT_TASK = "5f1c2d3e-0000-4000-8000-000000000002"
DEMO_MOBIZON_TASK = 5001
DEMO_USER = "demo-user@example.com"
#: The demo scenario's deletion job still scheduled, for example_openreplay_cancel.
DEMO_MISTAKEN_JOB = 1001


def poll_seconds(default: float) -> float:
    """The example's poll interval: the environment's override, else the service default."""
    value = os.environ.get("PROVIDER_TASKS_EXAMPLE_POLL_SECONDS")
    return float(value) if value else default

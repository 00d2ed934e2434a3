"""Apache Airflow provider for the background tasks of Post-e-Ketab, OpenReplay and Mobizon.

The layers, from what a DAG imports down to the wire::

    sensors/  operators/        what a DAG uses: one module per service (poke, reschedule, deferrable)
        │           │
        ├── triggers/           the deferrable half: a trigger per service, on the shared poller
        │
    waits/                      the engine: policy (every decision of a wait), events, the blocking
        │                       loop, the triggerer's shared poller, when an owned job may be cancelled
    hooks/                      one hook per API (posteketab, openreplay, mobizon) on base.py: the
        │                       contract; connection.py: settings; transport.py: the round trip;
        │                       sessions.py: one aiohttp session per event loop
    states, exceptions, retry, redaction, json_stream, validation   the small shared pieces

``simulator/`` serves the three APIs locally (tests, demos, your own DAG tests); ``testing`` holds
test doubles for running an operator outside Airflow.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.2.0"

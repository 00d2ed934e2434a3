"""``python -m airflow_provider_tasks.simulator``: serve the simulated APIs in the foreground.

Prints one export-ready line per Airflow connection, then ``simulator ready on <url>``, and serves
until SIGINT or SIGTERM (exit status 0)::

    $ python -m airflow_provider_tasks.simulator --port 8765 --scenario demo
    AIRFLOW_CONN_POSTEKETAB_DEFAULT='{"conn_type": "posteketab", ...}'
    ...
    simulator ready on http://127.0.0.1:8765
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_tasks.simulator",
        description="Serve simulated Post-e-Ketab, OpenReplay and Mobizon APIs on a loopback address.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default 0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--scenario", help="items to start with: 'demo' (built in) or the path of a scenario JSON file")
    parser.add_argument(
        "--mobizon-rate-limit",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="least seconds between two accepted Mobizon GetStatus calls (0 turns the limit off; default 1)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request (method, path, status)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; return the exit status."""
    args = parse_args(argv)
    from airflow_provider_tasks.simulator.scenario import read_scenario
    from airflow_provider_tasks.simulator.server import ACCESS_LOGGER, Simulator

    if args.access_log:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        ACCESS_LOGGER.setLevel(logging.DEBUG)

    try:
        sim = Simulator(args.host, args.port, mobizon_rate_limit=args.mobizon_rate_limit or None)
        if args.scenario:
            sim.load_scenario(read_scenario(args.scenario))
        sim.start()
    except (OSError, ValueError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for name, value in sim.env().items():
        print(f"{name}={shlex.quote(value)}")
    print(f"simulator ready on {sim.url}", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m airflow_provider_tasks.simulator``: serve the simulated APIs in the foreground.

Prints the Airflow connections to it as ``export`` lines, twice (JSON form, then URI form: paste
either block into the shell that runs Airflow), the ids of the items its scenario created as
comments, then ``simulator ready on <url>``, and serves until SIGINT or SIGTERM (exit status 0)::

    $ python -m airflow_provider_tasks.simulator --port 8765 --scenario demo
    # Connections to this simulator, JSON form:
    export AIRFLOW_CONN_POSTEKETAB_DEFAULT='{"conn_type": "posteketab", "host": "http://127.0.0.1:8765/...", ...}'
    ...
    # The same connections, URI form:
    export AIRFLOW_CONN_POSTEKETAB_DEFAULT='posteketab://:sim-posteketab-token@127.0.0.1:8765/posteketab%2F...'
    ...
    # Scenario demo created:
    #   posteketab task 5f1c2d3e-0000-4000-8000-000000000001
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_tasks.simulator.server import Simulator

__all__ = ["banner", "main", "parse_args"]

#: What each service's items are called.
_ITEM_NOUNS = {"posteketab": "task", "openreplay": "job", "mobizon": "task"}


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


def banner(sim: Simulator, scenario: str | None, created: Sequence[tuple[str, str | int]]) -> list[str]:
    """The lines printed before ``simulator ready on``: export lines in both forms, then the items."""
    lines = ["# Connections to this simulator, JSON form:"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sim.env("json").items()]
    lines.append("# The same connections, URI form:")
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sim.env("uri").items()]
    if scenario is not None:
        lines.append(f"# Scenario {scenario} created:" if created else f"# Scenario {scenario} created no items")
        lines += [f"#   {service} {_ITEM_NOUNS[service]} {item_id}" for service, item_id in created]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; return the exit status."""
    args = parse_args(argv)
    from airflow_provider_tasks.simulator.scenario import read_scenario
    from airflow_provider_tasks.simulator.server import ACCESS_LOGGER, Simulator

    if args.access_log:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        ACCESS_LOGGER.setLevel(logging.DEBUG)

    created: list[tuple[str, str | int]] = []
    try:
        sim = Simulator(args.host, args.port, mobizon_rate_limit=args.mobizon_rate_limit or None)
        if args.scenario:
            created = sim.load_scenario(read_scenario(args.scenario))
        sim.start()
    except (OSError, ValueError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for line in banner(sim, args.scenario, created):
        print(line)
    print(f"simulator ready on {sim.url}", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

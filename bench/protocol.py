"""How a measuring subprocess talks to the driver: one marked JSON line per message on stdout.

Airflow may print log lines on stdout too; only lines starting with :data:`MARK` are messages.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["MARK", "emit", "parse"]

MARK = "BENCH-MESSAGE "


def emit(kind: str, **payload: Any) -> None:
    """Write one message (``kind`` plus JSON-native ``payload``) to stdout and flush it."""
    sys.stdout.write(MARK + json.dumps({"kind": kind, **payload}) + "\n")
    sys.stdout.flush()


def parse(line: str) -> dict[str, Any] | None:
    """The message a line carries, or None for any other output."""
    if not line.startswith(MARK):
        return None
    message = json.loads(line[len(MARK) :])
    return message if isinstance(message, dict) else None

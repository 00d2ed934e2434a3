"""What ``python -m bench.deployment`` reads off a running deployment: the triggerer's CPU from
``/proc``, requests per interval from the simulator's log, trigger firings from the triggerer's log."""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import median, percentile, rounded

__all__ = ["fired_by_map_index", "group_cpu_s", "requests_per_interval", "summary"]

_TICKS = os.sysconf("SC_CLK_TCK")
_STAMP = re.compile(r"^\[?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)")
_NAME = re.compile(r"name=['\"]?([^\s'\"]+)")


def group_cpu_s(pgid: int) -> float:
    """utime+stime of every live process of process group ``pgid``, with the children each has reaped
    (cutime+cstime): the triggerer's supervisor and its trigger-runner subprocess."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) != pgid:  # field 5 of stat: pgrp
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / _TICKS


def requests_per_interval(timestamps: Sequence[float], start: float, interval: float, count: int) -> list[int]:
    """Requests in each of ``count`` consecutive intervals from ``start`` (monotonic seconds)."""
    buckets = [0] * count
    for moment in timestamps:
        index = math.floor((moment - start) / interval)
        if 0 <= index < count:
            buckets[index] += 1
    return buckets


def _fired(line: str) -> tuple[str, str] | None:
    """(timestamp, trigger name) of a "Trigger fired event" line, text or JSON."""
    line = line.strip()
    if "Trigger fired event" not in line:
        return None
    if line.startswith("{"):
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            return str(record.get("timestamp", "")), str(record.get("name", ""))
        return None
    stamp, name = _STAMP.match(line), _NAME.search(line)
    return (stamp.group(1), name.group(1)) if stamp and name else None


def fired_by_map_index(logs: Sequence[Path], dag_id: str, since: float) -> dict[int, float]:
    """``{map_index: epoch}`` of the first "Trigger fired event" of each mapped task of ``dag_id`` logged
    at or after ``since`` (epoch); the trigger's name is ``dag/run/task/map_index/try (ID n)``."""
    fired: dict[int, float] = {}
    for path in logs:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            found = _fired(line)
            if found is None or not found[1].startswith(dag_id + "/"):
                continue
            with contextlib.suppress(ValueError, IndexError):
                stamp = datetime.datetime.fromisoformat(found[0].replace("Z", "+00:00"))
                if stamp.tzinfo is None:
                    stamp = stamp.replace(tzinfo=datetime.UTC)
                index = int(found[1].split("/")[-2])
                if stamp.timestamp() >= since:
                    fired[index] = min(fired.get(index, math.inf), stamp.timestamp())
    return fired


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Count, median, p99 and max of ``values`` (seconds), rounded."""
    return {
        "count": len(values),
        "median": rounded(median(values), 3),
        "p99": rounded(percentile(values, 0.99), 3),
        "max": rounded(max(values), 3) if values else None,
    }

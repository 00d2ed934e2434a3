"""Scenarios: JSON descriptions of the items a simulator starts with.

A scenario is ``{"posteketab": [kwargs, ...], "openreplay": [kwargs, ...], "mobizon": [kwargs, ...]}``
where each ``kwargs`` object holds the keyword arguments of ``add_task`` / ``add_job`` in JSON form:
``steps`` as ``[{"status": .., "polls": .., "seconds": .., "progress": ..}]`` and ``created_at`` as
an ISO 8601 string. An optional ``"openreplay_new_job_steps"`` list sets the timeline of the jobs
that the delete-user-data call creates. The control API uses the same conversions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from airflow_provider_tasks.simulator.core import steps_from_json

__all__ = ["BUILTIN_SCENARIOS", "ITEM_KWARGS", "item_kwargs", "read_scenario"]

#: Scenarios shipped in ``airflow_provider_tasks/simulator/scenarios/<name>.json``.
BUILTIN_SCENARIOS: tuple[str, ...] = ("demo",)

#: The keyword arguments each service's ``add_*`` method takes.
ITEM_KWARGS: dict[str, frozenset[str]] = {
    "posteketab": frozenset({"task_id", "task_type", "steps", "task_result", "created_at"}),
    "openreplay": frozenset({"user_id", "steps", "project_key", "errors"}),
    "mobizon": frozenset({"task_id", "steps"}),
}
SCENARIO_KEYS = frozenset(ITEM_KWARGS) | {"openreplay_new_job_steps"}


def item_kwargs(service: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check and convert JSON ``add_*`` kwargs of ``service`` into Python ones."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{service} item must be a JSON object, not {raw!r}")
    allowed = ITEM_KWARGS[service]
    unknown = set(raw) - allowed
    if unknown:
        raise ValueError(f"unknown {service} field(s): {', '.join(sorted(unknown))}")
    kwargs = dict(raw)
    if "steps" in kwargs:
        kwargs["steps"] = steps_from_json(kwargs["steps"])
    if isinstance(kwargs.get("created_at"), str):
        kwargs["created_at"] = datetime.fromisoformat(kwargs["created_at"])
    return kwargs


def validate_scenario(data: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` when ``data`` is not a scenario object."""
    if not isinstance(data, Mapping):
        raise ValueError("a scenario is a JSON object")
    unknown = set(data) - SCENARIO_KEYS
    if unknown:
        raise ValueError(f"unknown scenario key(s): {', '.join(sorted(unknown))}")
    for key in SCENARIO_KEYS:
        if key in data and not isinstance(data[key], list):
            raise ValueError(f"scenario key {key!r} must hold a list")


def read_scenario(name_or_path: str | Path) -> dict[str, Any]:
    """Load a built-in scenario by name (``"demo"``) or a scenario JSON file by path."""
    if str(name_or_path) in BUILTIN_SCENARIOS:
        text = (
            resources.files("airflow_provider_tasks.simulator")
            .joinpath(f"scenarios/{name_or_path}.json")
            .read_text(encoding="utf-8")
        )
    else:
        text = Path(name_or_path).read_text(encoding="utf-8")
    data = json.loads(text)
    validate_scenario(data)
    return dict(data)

"""What the benchmark ran on."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

__all__ = ["describe_machine"]

_DISTRIBUTIONS = ("apache-airflow", "apache-airflow-providers-http", "aiohttp", "airflow-provider-tasks")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def describe_machine() -> dict[str, Any]:
    """CPU count, memory, OS, Python and the versions of the packages measured."""
    return {
        "cpu_count": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "airflow": _version("apache-airflow"),
        "versions": {name: _version(name) for name in _DISTRIBUTIONS},
    }

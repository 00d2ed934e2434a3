"""Small statistics helpers (no numpy)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["median", "percentile", "rounded"]


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile (nearest rank, 0 < fraction <= 1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    """The median (mean of the two middle values for an even count); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def rounded(value: float | None, digits: int = 4) -> float | None:
    """``value`` rounded for the JSON report (None stays None)."""
    return None if value is None else round(value, digits)

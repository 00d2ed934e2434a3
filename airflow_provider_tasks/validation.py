"""Input checks that run before any request, with errors naming the parameter and its value."""

from __future__ import annotations

from typing import Any

__all__ = ["require_positive_int", "require_text_id"]


def require_text_id(name: str, value: Any, *, max_length: int | None = None) -> str:
    """Return ``value`` as a stripped non-empty string id, or raise ValueError naming ``name``."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    text = str(value).strip()
    if not text:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if max_length is not None and len(text) > max_length:
        raise ValueError(f"{name} must be at most {max_length} characters, got {len(text)}: {text[:40]!r}...")
    return text


def require_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as a positive int (digit strings from templates accepted), or raise ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("+").isdigit():
        number = int(value.strip())
    else:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if number <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return number

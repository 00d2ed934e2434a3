"""Parameter handling shared by sensors and operators: input checks that run before any request
(errors name the parameter and its value), templated values, the deferrable default."""

from __future__ import annotations

from typing import Any

__all__ = ["default_deferrable", "is_template", "require_positive_int", "require_text_id"]


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


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` from the Airflow configuration (False when unset)."""
    from airflow.providers.common.compat.sdk import conf

    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


def is_template(value: Any) -> bool:
    """True for values only known once rendered (Jinja strings, XComArgs, ...)."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(is_template(item) for item in value)
    return not isinstance(value, int | float | type(None))

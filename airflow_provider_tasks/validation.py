"""Parameter handling shared by sensors and operators: input checks that run before any request
(errors name the parameter and its value), templated values, the deferrable default."""

from __future__ import annotations

import ast
from collections.abc import Collection
from typing import Any

__all__ = [
    "default_deferrable",
    "int_filter",
    "is_template",
    "require_positive_int",
    "require_text_id",
    "str_filter",
]

#: What a template renders for an unset (``None``) param: no filter.
_NO_FILTER_TEXTS = frozenset({"", "none", "null"})


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


def _filter_items(name: str, value: Any, kind: str) -> list[Any] | None:
    """The items of a list filter as given or as a template rendered it (``"3"``, ``"[0, 1]"``,
    ``"0,1"``, ``"['completed', 'failed']"``); None for no filter (``None``, or ``""``/``"None"``,
    what a template renders for an unset param)."""
    if value is None:
        return None
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in _NO_FILTER_TEXTS:
            return None
        if text[:1] in "[(":
            try:
                parsed = ast.literal_eval(text)  # a rendered Python/JSON list; literals only, never code
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise ValueError(f"{name} must be {kind}, got {value!r} (not a readable list)") from None
            if not isinstance(parsed, list | tuple):
                raise ValueError(f"{name} must be {kind}, got {value!r}")
            items = list(parsed)
        else:
            items = [part.strip().strip("'\"") for part in text.split(",")]
    else:
        items = [value]
    if not items:
        raise ValueError(f"{name} must be {kind}, got {value!r} (an empty list matches nothing)")
    return items


def int_filter(name: str, value: Any) -> frozenset[int] | None:
    """A filter of ints: an int, a list of ints, or their rendered text (``"3"``, ``"[0, 1]"``,
    ``"0,1"``); None means no filter. ``ValueError`` names ``name`` for anything else."""
    kind = "an int or a list of ints"
    items = _filter_items(name, value, kind)
    if items is None:
        return None
    numbers = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            numbers.append(item)
        elif isinstance(item, str) and item.strip().lstrip("+-").isdigit():
            numbers.append(int(item.strip()))
        else:
            raise ValueError(f"{name} must be {kind}, got {value!r}")
    return frozenset(numbers)


def str_filter(name: str, value: Any, allowed: Collection[str] | None = None) -> frozenset[str] | None:
    """A filter of strings: a string, a list of strings, or their rendered text (``"failed"``,
    ``"completed,failed"``, ``"['completed', 'failed']"``); None means no filter. ``ValueError``
    names ``name`` for anything else, or for a value outside ``allowed``."""
    kind = "a string or a list of strings"
    items = _filter_items(name, value, kind)
    if items is None:
        return None
    if any(not isinstance(item, str) or not item.strip() for item in items):
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    values = frozenset(item.strip() for item in items)
    if allowed is not None and not values <= set(allowed):
        raise ValueError(f"{name} must be among {sorted(allowed)}, got {value!r}")
    return values

"""What the three simulated APIs share: item storage, forced statuses and HTTP helpers.

A service subclass declares its URL prefixes, its routes, how it answers the ``code`` fault and
(optionally) what a bare HTTP error looks like coming from it. Timelines, faults and counters stay
in :mod:`airflow_provider_tasks.simulator.core` and the server middleware; services never count
requests or inject faults themselves.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import partial
from http import HTTPStatus
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from aiohttp import web

from airflow_provider_tasks.simulator.core import Step, Timeline

__all__ = ["Service", "StatusListener", "TrackedItem", "json_response", "reason", "text_response"]

#: Called as ``listener(service, item_key, monotonic_instant)`` whenever an item changes status.
StatusListener = Callable[[str, str, float], None]


def json_response(payload: Any, status: int = 200) -> web.Response:
    """A JSON response with UTF-8 text left unescaped (as the real servers send Persian text)."""
    return web.Response(
        body=json.dumps(payload, ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def text_response(text: str, status: int) -> web.Response:
    """A small plain-text response."""
    return web.Response(text=text, status=status, content_type="text/plain", charset="utf-8")


def reason(status: int) -> str:
    """The standard reason phrase of an HTTP status (``"Bad Gateway"``), or ``"Error"``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class TrackedItem(Protocol):
    """Anything a service stores: a key and the timeline of its status."""

    @property
    def key(self) -> str: ...

    @property
    def timeline(self) -> Timeline: ...


ItemT = TypeVar("ItemT", bound=TrackedItem)


class Service(ABC, Generic[ItemT]):
    """Base of the three simulated APIs.

    :param lock: the simulator lock; every method touching items holds it.
    :param on_status_change: told about every status change of every item.
    """

    #: Service name used by ``Simulator.add_fault``, ``count``, ``set_status``...
    name: ClassVar[str]
    #: URL prefixes this service answers under (requests there are counted as this service).
    prefixes: ClassVar[tuple[str, ...]]
    #: Python type of the service's raw status values.
    status_type: ClassVar[type]

    def __init__(self, lock: threading.RLock, on_status_change: StatusListener) -> None:
        self._lock = lock
        self._on_status_change = on_status_change
        self._items: dict[str, ItemT] = {}

    # ---- for subclasses -------------------------------------------------------------------------

    @abstractmethod
    def routes(self) -> Sequence[web.AbstractRouteDef]:
        """The aiohttp routes (with full paths, prefix included) of this service."""

    @abstractmethod
    def code_error(self, code: int) -> web.Response:
        """The service's own error envelope for ``code`` (the ``code`` fault)."""

    def http_error(self, status: int) -> web.Response:
        """What a bare HTTP error ``status`` looks like from this service (the ``http`` fault)."""
        return text_response(f"{status} {reason(status)}", status)

    def _new_timeline(self, key: str, steps: Sequence[Step], now: float) -> Timeline:
        for step in steps:
            self._check_status(step.status)
        return Timeline(steps, now, on_change=partial(self._on_status_change, self.name, key))

    def _store(self, item: ItemT) -> None:
        if item.key in self._items:
            raise ValueError(f"{self.name}: an item with id {item.key!r} already exists")
        self._items[item.key] = item

    def _clear(self) -> None:
        """Subclasses extend this to reset their id counters and settings."""
        self._items.clear()

    def _check_status(self, status: int | str) -> None:
        if not isinstance(status, self.status_type) or isinstance(status, bool):
            raise TypeError(f"{self.name} statuses are {self.status_type.__name__} values, not {status!r}")

    # ---- public ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def ids(self) -> list[str]:
        """The keys (ids as strings) of every stored item, in creation order."""
        with self._lock:
            return list(self._items)

    def current_status(self, item_id: object) -> int | str:
        """The item's status right now (applies due time-based steps, does not count as a poll)."""
        with self._lock:
            return self._get(item_id).timeline.peek(time.monotonic()).status

    def set_status(self, item_id: object, status: int | str, progress: int | None = None) -> float:
        """Force the item to ``status`` now, for good; return the ``time.monotonic()`` of the change."""
        self._check_status(status)
        now = time.monotonic()
        with self._lock:
            self._get(item_id).timeline.force(Step(status, progress=progress), now)
        return now

    def reset(self) -> None:
        """Forget every item and return to the constructor's settings."""
        with self._lock:
            self._clear()

    def _get(self, item_id: object) -> ItemT:
        item = self._items.get(str(item_id))
        if item is None:
            raise KeyError(f"{self.name}: no item with id {item_id!r}")
        return item

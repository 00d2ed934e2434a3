"""Event triggers: announce each remote item that reaches a terminal state, once, as an asset event.

An ``AssetWatcher`` runs such a trigger in the triggerer for as long as its DAG exists; each item
of the service's list (OpenReplay jobs, Post-e-Ketab tasks) that finishes becomes one
``TriggerEvent`` whose payload is the item (``service``, ``id``, ``type``, ``status``, ``state``,
timestamps, and the list item itself under ``item``): Airflow turns it into one asset event.

**Reading the list, shared.** The lists are newest first, so one page per round shows everything that
appeared since the last round. On Airflow 3.3.2+ the triggerer's shared stream
(``BaseEventTrigger.shared_stream_key``) runs that page read once per connection, scope and interval
for every watcher of it, whatever their filters, and fans each page out to every trigger's
:meth:`filter_shared_stream`; elsewhere :meth:`run` reads the same stream alone. This rather than
the waits' shared poller (:mod:`airflow_provider_tasks.waits.poller`), which answers *known* ids
(``hook.apoll_many(ids)``) and cannot discover new items; what the page does not show (items still
unfinished from older pages) is read exactly as the poller reads it, with ``hook.apoll_many``.

**The cursor, bounded.** Per trigger: the order key (OpenReplay job id, Post-e-Ketab ``created_at``)
of the newest item seen (``high``, with the ids at that key), and the unfinished items at or below
it that match the filters (``open``, at most :data:`MAX_OPEN`). Kept in Airflow
(:mod:`.cursor`), written before the round's events are handed to Airflow: a restart announces
nothing twice (at most once: an event not yet stored when the triggerer dies is lost).
Airflow itself can still run one trigger on two triggerers for a moment (a failover) and both
announce: the payload's ``service`` and ``id`` make such a twin detectable.

**A new watcher** announces the items that finish after it starts: the unfinished ones on the
first page and every item that appears later. Items finished before it started are not announced
unless the trigger is given a start (``after_job_id`` / ``created_after``): then every item newer
than it is announced once it has finished, reading back at most :data:`MAX_CATCH_UP_PAGES` pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable, Iterable, Mapping
from typing import Any, ClassVar

from airflow.triggers.base import TriggerEvent

from airflow_provider_tasks.exceptions import RemoteError, RemoteTaskNotFound
from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.loop_logging import alog
from airflow_provider_tasks.states import TaskSnapshot
from airflow_provider_tasks.triggers.cursor import CursorStore, cursor_key

try:
    from airflow.triggers.base import BaseEventTrigger
except ImportError:  # Airflow 2.11 has no event-driven scheduling: importable, never watched
    from airflow.triggers.base import BaseTrigger as BaseEventTrigger  # type: ignore[assignment]

__all__ = ["MAX_CATCH_UP_PAGES", "MAX_OPEN", "FinishedItemsTrigger"]

#: Unfinished items a cursor tracks at most (the oldest are dropped beyond it, logged).
MAX_OPEN = 1000
#: Pages read back in one round when a page shows only new items (after downtime, or from a start).
MAX_CATCH_UP_PAGES = 20
#: Arguments that do not decide what is announced: changing them keeps the cursor.
_NOT_IN_CURSOR_KEY = frozenset({"poll_interval"})


class FinishedItemsTrigger(BaseEventTrigger):  # type: ignore[misc, valid-type]
    """The common part of the event triggers; a service defines how to read a page and an item.

    :param conn_id: Airflow connection id.
    :param poll_interval: seconds between two reads of the list's first page.
    """

    hook_class: ClassVar[type[RemoteTaskHook]]

    def __init__(self, *, conn_id: str, poll_interval: float) -> None:
        super().__init__()
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) or poll_interval <= 0:
            raise ValueError(f"poll_interval must be a positive number of seconds, got {poll_interval!r}")
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.asset_state_store = getattr(self, "asset_state_store", None)
        self._store: CursorStore | None = None
        self._hook: RemoteTaskHook | None = None

    # ------------------------------------------------------------------ per service
    def arguments(self) -> dict[str, Any]:
        """The service's own arguments (filters, scope, start), as serialized."""
        raise NotImplementedError

    def scope(self) -> tuple[Any, ...]:
        """What, beyond the connection, decides which list is read (OpenReplay's project)."""
        return ()

    @classmethod
    async def read_page(
        cls, hook: RemoteTaskHook, scope: tuple[Any, ...], page: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of the list, newest first, and whether a next page may exist."""
        raise NotImplementedError

    def key_of(self, item: Mapping[str, Any]) -> str:
        """The item's id, as a string."""
        raise NotImplementedError

    def order_of(self, item: Mapping[str, Any]) -> Any:
        """A JSON-native, comparable key that grows with the item's creation."""
        raise NotImplementedError

    def start(self) -> Any:
        """The order key after which a new watcher announces finished items (None: only those that
        finish after it starts)."""
        return None

    def matches(self, item: Mapping[str, Any]) -> bool:
        """Whether the item is of interest whatever its state (type, action, reference...)."""
        return True

    def wanted_end(self, snapshot: TaskSnapshot) -> bool:
        """Whether this terminal snapshot is announced (the status filter)."""
        return True

    def payload(self, item: Mapping[str, Any], snapshot: TaskSnapshot) -> dict[str, Any]:
        """The asset event's payload for a finished item."""
        raise NotImplementedError

    async def read_open(self, hook: RemoteTaskHook, ids: list[str]) -> Mapping[Any, Any]:
        """The snapshots (or errors) of tracked items the page did not show, read as the waits' poller
        reads statuses (``apoll_many``: list pages when cheaper, else one read per item)."""
        return await hook.apoll_many(ids)

    # ------------------------------------------------------------------ Airflow's contract
    def serialize(self) -> tuple[str, dict[str, Any]]:
        cls = type(self)
        kwargs = {self.hook_class.conn_name_attr: self.conn_id, "poll_interval": self.poll_interval}
        return f"{cls.__module__}.{cls.__qualname__}", {**kwargs, **self.arguments()}

    def shared_stream_key(self) -> Hashable | None:
        """Watchers of the same list and interval share one read of it (Airflow 3.3.2+)."""
        return (
            "airflow_provider_tasks",
            type(self).hook_class.__name__,
            self.conn_id,
            self.scope(),
            self.poll_interval,
        )

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """Read the list's first page every ``poll_interval``, forever; a failed read is a view with
        an ``error`` (logged by each trigger, and polled again), never the end of the stream."""
        trigger = cls(**kwargs)
        hook = trigger.hook_class(trigger.conn_id)  # type: ignore[call-arg]
        try:
            while True:
                try:
                    items, more = await cls.read_page(hook, trigger.scope(), 1)
                    yield {"items": items, "more": more, "error": None}
                except (RemoteError, ValueError) as error:
                    yield {"items": [], "more": False, "error": f"{type(error).__name__}: {error}"}
                await asyncio.sleep(trigger.poll_interval)
        finally:
            await hook.aclose()

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        async for view in shared_stream:
            for payload in await self.take_view(view):
                yield TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Without a shared stream (before Airflow 3.3.2): the same stream, read by this trigger alone."""
        try:
            async for event in self.filter_shared_stream(type(self).open_shared_stream(self.serialize()[1])):
                yield event
        finally:
            await self.cleanup()  # the triggerer calls it too; a trigger run by hand gives its session back here

    async def cleanup(self) -> None:
        if self._hook is not None:
            hook, self._hook = self._hook, None
            await hook.aclose()

    # ------------------------------------------------------------------ one round
    @property
    def hook(self) -> RemoteTaskHook:
        if self._hook is None:
            self._hook = self.hook_class(self.conn_id)  # type: ignore[call-arg]
        return self._hook

    @property
    def cursor_store(self) -> CursorStore:
        if self._store is None:
            classpath, kwargs = self.serialize()
            key = cursor_key(classpath, kwargs, _NOT_IN_CURSOR_KEY)
            self._store = CursorStore(key, getattr(self, "asset_state_store", None))
        return self._store

    def _is_new(self, item: Mapping[str, Any], cursor: Mapping[str, Any]) -> bool:
        high, at_high = cursor.get("high"), cursor.get("at_high")  # at_high None: a start, itself excluded
        order = self.order_of(item)
        return (
            high is None or order > high or (at_high is not None and order == high and self.key_of(item) not in at_high)
        )

    def _snapshot(self, item: Mapping[str, Any]) -> TaskSnapshot | None:
        try:
            return self.hook.snapshot(self.key_of(item), item)
        except RemoteError as error:  # an unknown status: never announced as finished, said so
            self.log.warning("%s %s: %s; not tracked", self.hook_class.service_name, self.key_of(item), error)
            return None

    async def _catch_up(self, items: list[dict[str, Any]], cursor: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Read further pages while every item shown is new (the page may hide more new items)."""
        page, more = 1, True
        while more and items and all(self._is_new(item, cursor) for item in items) and page < MAX_CATCH_UP_PAGES:
            page += 1
            older, more = await self.read_page(self.hook, self.scope(), page)
            seen = {self.key_of(item) for item in items}
            items = items + [item for item in older if self.key_of(item) not in seen]
            if not older:
                break
        return items

    def _baseline(self, items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """A new watcher's cursor: nothing that already finished is announced (see the module docstring)."""
        cursor: dict[str, Any] = {"high": self.start(), "at_high": None, "open": {}}
        if cursor["high"] is not None:
            return cursor
        cursor["at_high"] = []
        for item in items:
            snapshot = self._snapshot(item)
            if snapshot is not None and not snapshot.state.is_terminal and self.matches(item):
                cursor["open"][self.key_of(item)] = self.order_of(item)
        self._advance(cursor, items)
        return cursor

    def _advance(self, cursor: dict[str, Any], items: Iterable[Mapping[str, Any]]) -> None:
        orders = [(self.order_of(item), self.key_of(item)) for item in items]
        if not orders:
            return
        newest = max(order for order, _ in orders)
        if cursor.get("high") is None or newest > cursor["high"]:
            cursor["high"], cursor["at_high"] = newest, sorted(key for order, key in orders if order == newest)
        elif newest == cursor["high"] and cursor["at_high"] is not None:
            cursor["at_high"] = sorted(set(cursor["at_high"]) | {key for order, key in orders if order == newest})

    async def take_view(self, view: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Take one read of the list; return the payloads of the items that finished since the last one."""
        if view.get("error"):
            await alog(
                self.log,
                "warning",
                "%s: reading the list failed (%s); will read it again",
                self.hook_class.service_name,
                view["error"],
            )
            return []
        items = [dict(item) for item in view.get("items") or () if isinstance(item, Mapping)]
        stored = await self.cursor_store.load()
        if stored is None:
            await self.hook.asettings()  # a start may depend on the connection (Post-e-Ketab's timezone)
            cursor = self._baseline(items)
            if cursor["high"] is not None and self.start() is None:
                await self.cursor_store.save(cursor)
                await alog(
                    self.log,
                    "info",
                    "Watching %s from %s (%d unfinished)",
                    self.hook_class.service_name,
                    cursor["high"],
                    len(cursor["open"]),
                )
                return []
        else:
            cursor = {
                "high": stored.get("high"),
                "at_high": None if stored.get("at_high") is None else list(stored["at_high"]),
                "open": dict(stored.get("open") or {}),
            }
        if view.get("more"):
            items = await self._catch_up(items, cursor)
        announced: list[tuple[Any, dict[str, Any]]] = []
        shown = {self.key_of(item): item for item in items}
        for key, item in shown.items():
            if not self._is_new(item, cursor) and key not in cursor["open"]:
                continue
            snapshot = self._snapshot(item)
            if snapshot is None or not self.matches(item):
                cursor["open"].pop(key, None)
            elif not snapshot.state.is_terminal:
                cursor["open"][key] = self.order_of(item)
            else:
                cursor["open"].pop(key, None)
                if self.wanted_end(snapshot):
                    announced.append((self.order_of(item), self.payload(item, snapshot)))
        announced += await self._settle_unshown(cursor, [key for key in cursor["open"] if key not in shown])
        self._advance(cursor, items)
        self._bound(cursor)
        await self.cursor_store.save(cursor)  # before Airflow gets the events: never announced twice
        announced.sort(key=lambda pair: pair[0])
        return [payload for _, payload in announced]

    async def _settle_unshown(self, cursor: dict[str, Any], keys: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        """Tracked items the page did not show: read them; announce those that finished."""
        if not keys:
            return []
        try:
            results = await self.read_open(self.hook, keys)
        except (RemoteError, ValueError) as error:
            await alog(
                self.log,
                "warning",
                "%s: could not read %d unfinished item(s): %s",
                self.hook_class.service_name,
                len(keys),
                error,
            )
            return []
        announced = []
        for item_id, result in results.items():
            key = str(item_id)
            if isinstance(result, RemoteTaskNotFound):
                cursor["open"].pop(key, None)  # deleted: nothing will ever finish
            elif isinstance(result, TaskSnapshot) and result.state.is_terminal:
                order = cursor["open"].pop(key, None)
                if self.matches(result.raw) and self.wanted_end(result):
                    announced.append((order, self.payload(result.raw, result)))
        return announced

    def _bound(self, cursor: dict[str, Any]) -> None:
        extra = len(cursor["open"]) - MAX_OPEN
        if extra > 0:
            oldest = sorted(cursor["open"].items(), key=lambda pair: pair[1])[:extra]
            for key, _ in oldest:
                del cursor["open"][key]
            self.log.warning(
                "%s: tracking at most %d unfinished items; %d oldest dropped",
                self.hook_class.service_name,
                MAX_OPEN,
                extra,
            )


def filter_values(name: str, value: Any, allowed: Iterable[Any]) -> list[Any] | None:
    """A filter given as one value or a list, checked against ``allowed`` (None: no filter)."""
    if value is None:
        return None
    values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
    allowed = list(allowed)
    if not values or any(isinstance(item, bool) or item not in allowed for item in values):
        raise ValueError(f"{name} must be among {allowed} (one value or a list), got {value!r}")
    return sorted(set(values), key=str)


def text_values(name: str, value: Any) -> list[str] | None:
    """A text filter given as one string or a list (None: no filter)."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not values or not all(isinstance(item, str) and item for item in values):
        raise ValueError(f"{name} must be a non-empty string or a list of them, got {value!r}")
    return sorted(set(values))

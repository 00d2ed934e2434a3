"""Where an event trigger keeps its cursor (what it has announced), so that no item is announced twice.

- Airflow 3.3+: the asset state store of the watched asset(s), which the triggerer hands every
  ``BaseEventTrigger`` that an ``AssetWatcher`` runs (``self.asset_state_store``). It survives
  triggerer restarts and re-created watchers: the key is derived from the trigger's own arguments.
- Elsewhere (Airflow 3.0-3.2, or a trigger run without an asset): an Airflow Variable under the same
  key, written through the triggerer's own client.
- Where Airflow refuses that too: memory only, said once in the log. A restarted triggerer then
  starts afresh, as a new watcher does: it announces nothing twice, but misses what finished while
  it was down.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["CURSOR_KEY_PREFIX", "CursorStore", "cursor_key"]

#: Prefix of the asset-state (or Variable) key of every event trigger's cursor.
CURSOR_KEY_PREFIX = "airflow_provider_tasks.announced."

log = logging.getLogger(__name__)


def cursor_key(classpath: str, kwargs: Mapping[str, Any], ignore: frozenset[str] = frozenset()) -> str:
    """A stable key for a trigger's cursor: its class and the arguments that decide what it announces
    (``ignore`` the others, e.g. the poll interval: changing it must not announce anything again)."""
    relevant = {key: value for key, value in kwargs.items() if key not in ignore}
    digest = hashlib.sha256(json.dumps([classpath, relevant], sort_keys=True, default=str).encode()).hexdigest()
    return f"{CURSOR_KEY_PREFIX}{classpath.rpartition('.')[2]}.{digest[:16]}"


def _accessors(store: Any) -> list[Any]:
    """One accessor per watched asset. Several assets watching the same trigger (its identity is its
    kwargs) share one ``AssetStateStoreAccessors``, whose single-asset shortcut then refuses: the
    cursor is read from the first asset that has it and written to each (private fields, Airflow 3.3)."""
    found = [*getattr(store, "_by_name", {}).values(), *getattr(store, "_by_uri", {}).values()]
    return found or [store]


class CursorStore:
    """Loads and saves one trigger's cursor (a JSON-native dict) where this Airflow allows."""

    def __init__(self, key: str, asset_state_store: Any = None) -> None:
        self.key = key
        self.asset_state_store = asset_state_store
        self._memory: dict[str, Any] | None = None
        self._memory_only = False
        #: Where the cursor lives: ``asset_state_store``, ``variable`` or ``memory``.
        self.kind = "asset_state_store" if asset_state_store is not None else "variable"

    def _fall_back(self, error: BaseException) -> None:
        self._memory_only, self.kind = True, "memory"
        log.warning(
            "Cannot keep the cursor %s in Airflow (%s: %s); keeping it in memory: a triggerer restart "
            "starts afresh (nothing is announced twice, but what finishes meanwhile is missed)",
            self.key,
            type(error).__name__,
            error,
        )

    async def load(self) -> dict[str, Any] | None:
        if self._memory_only or self._memory is not None:
            return self._memory
        try:
            raw = await self._load()
        except Exception as error:
            self._fall_back(error)
            return None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raw = None
        self._memory = dict(raw) if isinstance(raw, Mapping) else None
        return self._memory

    async def save(self, cursor: dict[str, Any]) -> None:
        self._memory = cursor
        if self._memory_only:
            return
        try:
            await self._save(cursor)
        except Exception as error:
            self._fall_back(error)

    async def _load(self) -> Any:
        if self.asset_state_store is not None:
            for accessor in _accessors(self.asset_state_store):
                value = await accessor.aget(self.key)
                if value is not None:
                    return value
            return None
        from airflow.providers.common.compat.sdk import Variable

        return await asyncio.to_thread(Variable.get, self.key, default=None)

    async def _save(self, cursor: dict[str, Any]) -> None:
        if self.asset_state_store is not None:
            for accessor in _accessors(self.asset_state_store):
                await accessor.aset(self.key, cursor)
            return
        from airflow.providers.common.compat.sdk import Variable

        await asyncio.to_thread(Variable.set, self.key, json.dumps(cursor))

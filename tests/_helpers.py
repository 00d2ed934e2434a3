"""Helpers for the tests (importable because pytest puts this folder on sys.path)."""

from __future__ import annotations

import asyncio
from typing import Any


async def _first_event(trigger: Any, timeout: float) -> Any:
    async def first() -> Any:
        async for event in trigger.run():
            return event
        return None

    return await asyncio.wait_for(first(), timeout)


def run_trigger(trigger: Any, timeout: float = 30.0) -> Any:
    """Run a trigger in a fresh event loop until its first event; return the event's payload."""
    event = asyncio.run(_first_event(trigger, timeout))
    assert event is not None, "trigger ended without an event"
    return event.payload

"""The session registry: one aiohttp session per event loop, shared by every hook of this package on it.

A triggerer holds thousands of waits on one event loop; a session per wait would mean a connection
pool, and a TLS handshake, per poll. Hooks :func:`acquire` the loop's session and :func:`release` it;
the last release closes it.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

__all__ = ["acquire", "release", "users"]

#: Connections per host the shared pool keeps open at most.
LIMIT_PER_HOST = 100


@dataclass
class _Shared:
    session: aiohttp.ClientSession
    users: int = 0


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared] = weakref.WeakKeyDictionary()


def acquire() -> aiohttp.ClientSession:
    """The running loop's shared session (created on first use); pair every call with :func:`release`."""
    import aiohttp

    loop = asyncio.get_running_loop()
    shared = _by_loop.get(loop)
    if shared is None or shared.session.closed:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=LIMIT_PER_HOST)
        session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": "airflow-provider-tasks"})
        shared = _by_loop[loop] = _Shared(session)
    shared.users += 1
    return shared.session


async def release() -> None:
    """Give the running loop's session back; the last user closes it."""
    loop = asyncio.get_running_loop()
    shared = _by_loop.get(loop)
    if shared is None:
        return
    shared.users -= 1
    if shared.users <= 0:
        del _by_loop[loop]
        await shared.session.close()


def users() -> int:
    """How many hooks hold the running loop's session (for tests and benchmarks)."""
    shared = _by_loop.get(asyncio.get_running_loop())
    return shared.users if shared else 0

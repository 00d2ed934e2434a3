"""Turn a :class:`~airflow_provider_tasks.simulator.core.Fault` into what the client sees.

One implementation for every service: only the ``http``, ``rate_limit`` and ``code`` kinds ask the
service what its error bodies look like.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from airflow_provider_tasks.simulator.service import reason

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from airflow_provider_tasks.simulator.core import Fault
    from airflow_provider_tasks.simulator.service import Service

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

__all__ = ["DROPPING_KINDS", "answer_fault", "html_page"]

#: Fault kinds that close the connection instead of answering (recorded with status 0).
DROPPING_KINDS = frozenset({"drop", "reset"})


def html_page(status: int) -> web.Response:
    """The HTML error page a reverse proxy (nginx) sends."""
    title = f"{status} {reason(status)}"
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


async def answer_fault(
    fault: Fault, request: web.Request, service: Service[Any], handler: Handler
) -> web.StreamResponse:
    """Answer ``request`` as ``fault`` says (``handler`` is the normal route handler)."""
    kind = fault.kind
    if kind == "slow":
        await asyncio.sleep(fault.delay or 0.0)
        return await handler(request)
    if kind == "http":
        return service.http_error(fault.status or 500)
    if kind == "rate_limit":
        response = service.http_error(429)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = fault.retry_after
        return response
    if kind == "code":
        return service.code_error(fault.code or 0)
    if kind == "html":
        return html_page(fault.status or 502)
    if kind == "empty_401":
        return web.Response(status=401)
    if kind == "truncated_json":
        return await _truncated(request, handler)
    if kind == "drop":
        return await _drop(request)
    if kind == "reset":
        _abort(request)
        return web.Response(status=500)  # never sent: aiohttp finds the transport closed
    raise AssertionError(f"unhandled fault kind {kind!r}")  # Fault validates kinds


async def _truncated(request: web.Request, handler: Handler) -> web.Response:
    """Process the request, then send only the first half of its JSON body."""
    normal = await handler(request)
    body = normal.body if isinstance(normal, web.Response) else None
    whole = bytes(body) if isinstance(body, bytes | bytearray) and len(body) >= 4 else b'{"data": {"id": 1}}'
    return web.Response(body=whole[: len(whole) // 2], status=200, content_type="application/json")


async def _drop(request: web.Request) -> web.StreamResponse:
    """Send headers announcing a JSON body, a few bytes of it, then abort the connection."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = 1024
    await response.prepare(request)
    await response.write(b'{"')
    _abort(request)
    return response  # aiohttp's write_eof meets the closed transport and lets the connection go quietly


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()

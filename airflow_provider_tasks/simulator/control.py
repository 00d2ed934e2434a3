"""The ``/_sim`` control API: script a simulator running in another process.

=========================================  ==================================================
``POST   /_sim/reset``                      forget items, faults and counters
``GET    /_sim/counters``                   ``{"total", "by_service", "mobizon_rate_limited"}``
``GET    /_sim/requests``                   ``[{"service", "method", "path", "timestamp", "status"}]``
``POST   /_sim/posteketab/tasks``           ``add_task`` kwargs → ``{"id": "<uuid>"}``
``POST   /_sim/openreplay/jobs``            ``add_job`` kwargs → ``{"id": 1000}``
``PUT    /_sim/openreplay/new_job_steps``   ``{"steps": [...]}``: timeline of jobs the API creates
``POST   /_sim/mobizon/tasks``              ``add_task`` kwargs → ``{"id": 5000}``
``POST   /_sim/status``                     ``{"service", "id", "status", "progress"}``
``POST   /_sim/faults``                     ``add_fault`` kwargs (plus ``service``, ``kind``)
``DELETE /_sim/faults``                     clear every pending fault
=========================================  ==================================================

Steps are ``[{"status": .., "polls": .., "seconds": .., "progress": ..}]``. Invalid input answers
400 ``{"error": "..."}``; an unknown item 404. Control calls are neither counted nor faulted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from airflow_provider_tasks.simulator.core import check_service, steps_from_json
from airflow_provider_tasks.simulator.scenario import item_kwargs
from airflow_provider_tasks.simulator.service import json_response

if TYPE_CHECKING:
    from airflow_provider_tasks.simulator.server import Simulator

__all__ = ["PREFIX", "control_routes"]

PREFIX = "/_sim"
_FAULT_FIELDS = frozenset(
    {"service", "kind", "times", "path", "method", "status", "code", "retry_after", "delay", "probability", "seed"}
)

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _guarded(handler: Callable[[web.Request], Awaitable[Any]]) -> Handler:
    """Run ``handler``; its result becomes JSON, bad input 400, unknown items 404."""

    async def wrapper(request: web.Request) -> web.Response:
        try:
            result = await handler(request)
        except KeyError as exc:
            return json_response({"error": str(exc.args[0]) if exc.args else "not found"}, status=404)
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response(result)

    return wrapper


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def control_routes(sim: Simulator) -> Sequence[web.AbstractRouteDef]:
    """The routes of the control API of ``sim``."""

    async def reset(request: web.Request) -> dict[str, Any]:
        sim.reset()
        return {"ok": True}

    async def counters(request: web.Request) -> dict[str, Any]:
        return sim.counters()

    async def requests(request: web.Request) -> list[dict[str, Any]]:
        return [record._asdict() for record in sim.requests]

    async def add_posteketab(request: web.Request) -> dict[str, Any]:
        return {"id": sim.posteketab.add_task(**item_kwargs("posteketab", await _body(request)))}

    async def add_openreplay(request: web.Request) -> dict[str, Any]:
        return {"id": sim.openreplay.add_job(**item_kwargs("openreplay", await _body(request)))}

    async def new_job_steps(request: web.Request) -> dict[str, Any]:
        steps = steps_from_json((await _body(request)).get("steps") or [])
        if not steps:
            raise ValueError("'steps' must be a non-empty list")
        sim.openreplay.new_job_steps = list(steps)
        return {"ok": True}

    async def add_mobizon(request: web.Request) -> dict[str, Any]:
        return {"id": sim.mobizon.add_task(**item_kwargs("mobizon", await _body(request)))}

    async def set_status(request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        missing = {"service", "id", "status"} - set(body)
        if missing:
            raise ValueError(f"missing field(s): {', '.join(sorted(missing))}")
        sim.set_status(check_service(body["service"]), body["id"], body["status"], body.get("progress"))
        return {"ok": True}

    async def add_fault(request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        unknown = set(body) - _FAULT_FIELDS
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        if "service" not in body or "kind" not in body:
            raise ValueError("a fault needs 'service' and 'kind'")
        service, kind = body.pop("service"), body.pop("kind")
        return sim.add_fault(service, kind, **body).to_dict()

    async def clear_faults(request: web.Request) -> dict[str, Any]:
        sim.clear_faults()
        return {"ok": True}

    return [
        web.post(f"{PREFIX}/reset", _guarded(reset)),
        web.get(f"{PREFIX}/counters", _guarded(counters)),
        web.get(f"{PREFIX}/requests", _guarded(requests)),
        web.post(f"{PREFIX}/posteketab/tasks", _guarded(add_posteketab)),
        web.post(f"{PREFIX}/openreplay/jobs", _guarded(add_openreplay)),
        web.put(f"{PREFIX}/openreplay/new_job_steps", _guarded(new_job_steps)),
        web.post(f"{PREFIX}/mobizon/tasks", _guarded(add_mobizon)),
        web.post(f"{PREFIX}/status", _guarded(set_status)),
        web.post(f"{PREFIX}/faults", _guarded(add_fault)),
        web.delete(f"{PREFIX}/faults", _guarded(clear_faults)),
    ]

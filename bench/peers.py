"""The peers the package's triggers are compared with.

* ``HttpSensorTrigger`` of ``apache-airflow-providers-http`` (used as is; see :func:`http_sensor_trigger`).
* :class:`PerWaitPollingTrigger`: a wait polled the way the dbt Cloud provider's
  ``DbtCloudRunJobTrigger`` does it: a loop per wait, the connection read once per wait, a new
  ``aiohttp.ClientSession`` for every request, one status request per wait per interval. The only
  addition is a semaphore bounding the requests in flight (a real triggerer is bounded by its file
  descriptors).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = [
    "HTTP_CONN_ID",
    "PeerStats",
    "PerWaitPollingTrigger",
    "StatusRequest",
    "http_connection",
    "http_sensor_trigger",
]

#: Connection id of the HTTP provider's connection to the simulated OpenReplay API.
HTTP_CONN_ID = "openreplay_http"
_CONN_IDS = {"openreplay": "openreplay_default", "posteketab": "posteketab_default", "mobizon": "mobizon_default"}


@dataclass(frozen=True)
class StatusRequest:
    """One status read of one item, ready for the wire."""

    method: str
    url: str
    headers: Mapping[str, str]
    params: Mapping[str, str] | None = None
    json_body: Any = None
    form: Mapping[str, str] | None = None


@dataclass
class PeerStats:
    """What the per-wait peer did: requests sent, Mobizon refusals, accepted reads per wait."""

    requests: int = 0
    rate_limited: int = 0
    accepted: dict[int, list[float]] = field(default_factory=dict)


def _openreplay_request(conn: Any, item_id: str | int) -> StatusRequest:
    project = conn.extra_dejson["project_key"]
    return StatusRequest(
        "GET",
        f"{conn.host.rstrip('/')}/public/{project}/jobs/{item_id}",
        {"Authorization": f"Bearer {conn.password}", "Accept": "application/json"},
    )


def _posteketab_request(conn: Any, item_id: str | int) -> StatusRequest:
    return StatusRequest(
        "POST",
        f"{conn.host.rstrip('/')}/task/detail/",
        {"Authorization": f"JWT {conn.password}", "Accept": "application/json"},
        json_body={"task_id": str(item_id)},
    )


def _mobizon_request(conn: Any, item_id: str | int) -> StatusRequest:
    return StatusRequest(
        "POST",
        f"{conn.host.rstrip('/')}/service/taskqueue/getstatus",
        {"Accept": "application/json"},
        params={"output": "json", "api": "v1", "apiKey": conn.password},
        form={"id": str(item_id)},
    )


class RateLimited(Exception):
    """Mobizon refused the read (code 30): the peer tries again at its next interval."""


def _openreplay_outcome(payload: Any) -> str | None:
    status = payload["data"]["status"]
    return {"completed": "success", "failed": "failed", "cancelled": "failed"}.get(status)


def _posteketab_outcome(payload: Any) -> str | None:
    if int(payload["returns"]["status"]) != 200:
        raise RuntimeError(f"Post-e-Ketab answered {payload['returns']}")
    return {3: "success", 4: "failed"}.get(int(payload["entries"]["task_status"]))


def _mobizon_outcome(payload: Any) -> str | None:
    code = int(payload["code"])
    if code == 30:
        raise RateLimited()
    if code != 0:
        raise RuntimeError(f"Mobizon answered code {code}")
    return {2: "success", 3: "failed"}.get(int(payload["data"]["status"]))


_REQUESTS: dict[str, Callable[[Any, str | int], StatusRequest]] = {
    "openreplay": _openreplay_request,
    "posteketab": _posteketab_request,
    "mobizon": _mobizon_request,
}
_OUTCOMES: dict[str, Callable[[Any], str | None]] = {
    "openreplay": _openreplay_outcome,
    "posteketab": _posteketab_outcome,
    "mobizon": _mobizon_outcome,
}


class PerWaitPollingTrigger(BaseTrigger):
    """Polls one item on its own until it is terminal, like ``DbtCloudRunJobTrigger``.

    :param service: ``openreplay``, ``posteketab`` or ``mobizon``.
    :param item_id: the job/task id.
    :param poll_interval: seconds between two reads.
    :param wait_index: this wait's number (for the per-wait statistics).
    :param limiter: bounds the requests in flight across every wait of the loop.
    :param stats: where the wait counts what it did.
    """

    def __init__(
        self,
        service: str,
        item_id: str | int,
        poll_interval: float,
        *,
        wait_index: int = 0,
        limiter: asyncio.Semaphore | None = None,
        stats: PeerStats | None = None,
    ) -> None:
        super().__init__()
        self.service = service
        self.item_id = item_id
        self.poll_interval = poll_interval
        self.wait_index = wait_index
        self.limiter = limiter
        self.stats = stats if stats is not None else PeerStats()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"service": self.service, "item_id": self.item_id, "poll_interval": self.poll_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.providers.common.compat.connection import get_async_connection

        try:
            conn = await get_async_connection(_CONN_IDS[self.service])  # once per wait (dbt: cached_property)
            request = _REQUESTS[self.service](conn, self.item_id)
            while True:
                try:
                    outcome = await self._read(request)
                except RateLimited:
                    self.stats.rate_limited += 1
                    outcome = None
                else:
                    self.stats.accepted.setdefault(self.wait_index, []).append(asyncio.get_running_loop().time())
                if outcome is not None:
                    yield TriggerEvent({"status": outcome, "id": self.item_id})
                    return
                await asyncio.sleep(self.poll_interval)
        except Exception as error:  # as DbtCloudRunJobTrigger: any failure ends the wait with an error event
            yield TriggerEvent({"status": "error", "id": self.item_id, "message": str(error)})

    async def _read(self, request: StatusRequest) -> str | None:
        async with self.limiter if self.limiter is not None else contextlib.nullcontext():
            self.stats.requests += 1
            async with (
                aiohttp.ClientSession(headers=dict(request.headers)) as session,
                session.request(
                    request.method,
                    request.url,
                    params=dict(request.params) if request.params else None,
                    json=request.json_body,
                    data=dict(request.form) if request.form is not None else None,
                ) as response,
            ):
                response.raise_for_status()
                payload = await response.json(content_type=None)
        return _OUTCOMES[self.service](payload)


def http_connection(openreplay_connection: Mapping[str, Any]) -> str:
    """``AIRFLOW_CONN_OPENREPLAY_HTTP``: an ``http`` connection to the same OpenReplay base URL, the
    Bearer key sent as a header through the extra (the HTTP provider's convention)."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": openreplay_connection["host"],
            "extra": {"Authorization": f"Bearer {openreplay_connection['password']}"},
        }
    )


def http_sensor_trigger(project_key: str, job_id: int, poll_interval: float) -> BaseTrigger:
    """``HttpSensorTrigger`` on the job's URL. It fires on the first answer that is not a 404, so the
    wait is "until the job exists": the job is created by the driver when the others are marked terminal."""
    from airflow.providers.http.triggers.http import HttpSensorTrigger

    return HttpSensorTrigger(
        endpoint=f"public/{project_key}/jobs/{job_id}",
        http_conn_id=HTTP_CONN_ID,
        method="GET",
        poke_interval=poll_interval,
    )

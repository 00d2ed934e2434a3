"""The :class:`Simulator`: one aiohttp server with the three APIs, run in a background thread."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote, urlencode

from aiohttp import web

from airflow_provider_tasks.simulator.control import control_routes
from airflow_provider_tasks.simulator.core import (
    Fault,
    FaultBook,
    RequestLog,
    RequestRecord,
    check_service,
    steps_from_json,
)
from airflow_provider_tasks.simulator.faults import DROPPING_KINDS, answer_fault
from airflow_provider_tasks.simulator.mobizon import MobizonService
from airflow_provider_tasks.simulator.openreplay import OpenReplayService
from airflow_provider_tasks.simulator.posteketab import PostEKetabService
from airflow_provider_tasks.simulator.runner import ACCESS_LOGGER, ServerThread
from airflow_provider_tasks.simulator.scenario import item_kwargs, validate_scenario
from airflow_provider_tasks.simulator.service import Service

__all__ = ["ACCESS_LOGGER", "Simulator"]

_CONNECTION_TIMEOUT = 10  # seconds of the connection extras
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _check_loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"the simulator binds loopback addresses only (it accepts fixed credentials), not {host!r}")


class Simulator:
    """Local stand-in for the Post-e-Ketab, OpenReplay and Mobizon APIs.

    >>> with Simulator() as sim:                      # doctest: +SKIP
    ...     task_id = sim.posteketab.add_task()
    ...     os.environ.update(sim.env())              # AIRFLOW_CONN_*_DEFAULT point at it

    The state (items, faults, counters) lives in this object and can be set up before or after
    :meth:`start`; the HTTP server runs in a daemon thread with its own event loop.

    :param host: a loopback address to bind.
    :param port: TCP port; 0 picks a free one (read it from :attr:`url` after :meth:`start`).
    :param posteketab_token: the JWT accepted by Post-e-Ketab.
    :param openreplay_api_key: the organisation key accepted by OpenReplay.
    :param openreplay_project_key: the only project that key owns.
    :param mobizon_api_key: the ``apiKey`` accepted by Mobizon.
    :param posteketab_error_http_status: HTTP status of Post-e-Ketab error envelopes (real: unknown).
    :param mobizon_numbers_as_strings: send GetStatus numbers as strings (``"40"``), as Mobizon does.
    :param mobizon_rate_limit: least seconds between two accepted GetStatus calls of one key;
        closer calls get code 30. ``None`` turns the limiter off (fast tests, benchmarks).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        posteketab_token: str = "sim-posteketab-token",
        openreplay_api_key: str = "sim-openreplay-key",
        openreplay_project_key: str = "simproject",
        mobizon_api_key: str = "sim-mobizon-key",
        posteketab_error_http_status: int = 200,
        mobizon_numbers_as_strings: bool = True,
        mobizon_rate_limit: float | None = 1.0,
    ) -> None:
        self.host = _check_loopback(host)
        self._requested_port = port
        self._lock = threading.RLock()
        #: ``(service, str(item_id))`` → ``time.monotonic()`` of the item's last status change
        #: (forced by :meth:`set_status`, or reached along its timeline).
        self.status_changed_at: dict[tuple[str, str], float] = {}
        self._faults = FaultBook(self._lock)
        self._log = RequestLog(self._lock)
        self.posteketab = PostEKetabService(
            self._lock,
            self._status_changed,
            token=posteketab_token,
            error_http_status=posteketab_error_http_status,
        )
        self.openreplay = OpenReplayService(
            self._lock, self._status_changed, api_key=openreplay_api_key, project_key=openreplay_project_key
        )
        self.mobizon = MobizonService(
            self._lock,
            self._status_changed,
            api_key=mobizon_api_key,
            alt_url=lambda: self.mobizon_alt_url,
            numbers_as_strings=mobizon_numbers_as_strings,
            rate_limit=mobizon_rate_limit,
        )
        self._services: dict[str, Service[Any]] = {
            service.name: service for service in (self.posteketab, self.openreplay, self.mobizon)
        }
        self._server = ServerThread(self._build_app, self.host, port)

    def __repr__(self) -> str:
        where = self.url if self._server.port is not None else "not started"
        return f"Simulator({where})"

    # ---- credentials and URLs -------------------------------------------------------------------

    @property
    def posteketab_token(self) -> str:
        return self.posteketab.token

    @property
    def openreplay_api_key(self) -> str:
        return self.openreplay.api_key

    @property
    def openreplay_project_key(self) -> str:
        return self.openreplay.project_key

    @property
    def mobizon_api_key(self) -> str:
        return self.mobizon.api_key

    @property
    def port(self) -> int:
        """The bound TCP port (known once started, or when a fixed port was asked for)."""
        if self._server.port is not None:
            return self._server.port
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("the simulator picks its port when started: call start() first")

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def posteketab_url(self) -> str:
        """Host of a Post-e-Ketab connection (routes are ``{posteketab_url}/task/detail/``...)."""
        return f"{self.url}/posteketab/api/v2/public"

    @property
    def openreplay_url(self) -> str:
        """Host of an OpenReplay connection (routes are ``{openreplay_url}/public/...``)."""
        return f"{self.url}/openreplay/v2"

    @property
    def mobizon_url(self) -> str:
        """Host of a Mobizon connection (routes are ``{mobizon_url}/service/...``)."""
        return f"{self.url}/mobizon"

    @property
    def mobizon_alt_url(self) -> str:
        """The second Mobizon "regional server", named in ``data`` by code 13."""
        return f"{self.url}/mobizon-alt"

    def connection_uris(self, form: Literal["json", "uri"] = "json") -> dict[str, str]:
        """Airflow connections (the value of ``AIRFLOW_CONN_<ID>``) keyed by conn id.

        ``form="json"``: the full base URL in ``host``. ``form="uri"``: the URI form Airflow splits
        into host, port and schema (the path), with the ``scheme`` extra saying plain ``http``:
        ``posteketab://:TOKEN@127.0.0.1:PORT/posteketab%2Fapi%2Fv2%2Fpublic?scheme=http&timeout=10``.
        """
        if form == "uri":
            return {conn_id: self._uri(conn) for conn_id, conn in self._connections().items()}
        return {conn_id: json.dumps(conn) for conn_id, conn in self._connections().items()}

    def _uri(self, conn: Mapping[str, Any]) -> str:
        path = str(conn["host"]).removeprefix(self.url).strip("/")
        query = urlencode({"scheme": "http", **conn["extra"]})
        password = quote(str(conn["password"]), safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{conn['conn_type']}://:{password}@{host}:{self.port}/{quote(path, safe='')}?{query}"

    def _connections(self) -> dict[str, dict[str, Any]]:
        extra = {"timeout": _CONNECTION_TIMEOUT}
        connections: dict[str, dict[str, Any]] = {
            "posteketab_default": {
                "conn_type": "posteketab",
                "host": self.posteketab_url,
                "password": self.posteketab_token,
                "extra": extra,
            },
            "openreplay_default": {
                "conn_type": "openreplay",
                "host": self.openreplay_url,
                "password": self.openreplay_api_key,
                "extra": {"project_key": self.openreplay_project_key, **extra},
            },
            "mobizon_default": {
                "conn_type": "mobizon",
                "host": self.mobizon_url,
                "password": self.mobizon_api_key,
                "extra": extra,
            },
        }
        return connections

    def env(self, form: Literal["json", "uri"] = "json") -> dict[str, str]:
        """``{"AIRFLOW_CONN_POSTEKETAB_DEFAULT": <json>, ...}``: merge into ``os.environ``
        (``form="uri"``: the same connections as URIs, see :meth:`connection_uris`)."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": value for conn_id, value in self.connection_uris(form).items()}

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._server.running

    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; return once requests are accepted.

        Also lifts the process's soft limit on open files to its hard limit, as thousands of
        concurrent connections need thousands of descriptors. Raises ``OSError`` when the port is taken.
        """
        self._server.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread (the items stay; :meth:`start` may run again)."""
        self._server.stop(timeout)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _build_app(self) -> web.Application:
        @web.middleware
        async def count_and_fault(request: web.Request, handler: Handler) -> web.StreamResponse:
            service = self._service_for(request.path)
            if service is None:
                return await handler(request)
            return await self._serve(service, request, handler)

        app = web.Application(middlewares=[count_and_fault])
        for service in self._services.values():
            app.router.add_routes(service.routes())
        app.router.add_routes(control_routes(self))
        return app

    def _service_for(self, path: str) -> Service[Any] | None:
        for service in self._services.values():
            if path.startswith(service.prefixes):
                return service
        return None

    async def _serve(self, service: Service[Any], request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.monotonic()
        status = 500
        try:
            fault = self._faults.take(service.name, request.path, request.method)
            if fault is None:
                response = await handler(request)
                status = response.status
            else:
                response = await answer_fault(fault, request, service, handler)
                status = 0 if fault.kind in DROPPING_KINDS else response.status
            return response
        except web.HTTPException as exc:  # aiohttp's own 404/405 for unknown routes
            status = exc.status
            raise
        finally:
            self._log.add(RequestRecord(service.name, request.method, request.path, arrived, status))

    def _status_changed(self, service: str, key: str, at: float) -> None:
        with self._lock:
            self.status_changed_at[(service, key)] = at

    # ---- scripting ------------------------------------------------------------------------------

    def _service(self, name: str) -> Service[Any]:
        return self._services[check_service(name)]

    def set_status(self, service: str, item_id: object, status: int | str, progress: int | None = None) -> None:
        """Force an item to ``status`` now; it stays there. ``progress`` is for Mobizon.

        Records the ``time.monotonic()`` of the change in :attr:`status_changed_at`.
        Raises ``KeyError`` for an unknown item, ``TypeError`` for a status of the wrong type.
        """
        self._service(service).set_status(item_id, status, progress)

    def add_fault(
        self,
        service: str,
        kind: str,
        *,
        times: int = 1,
        path: str | None = None,
        status: int | None = None,
        code: int | None = None,
        retry_after: str | None = None,
        delay: float | None = None,
        probability: float = 1.0,
        seed: int | None = None,
        method: str | None = None,
    ) -> Fault:
        """Make the next ``times`` requests of ``service`` (whose path contains ``path``, of ``method``) fail.

        See :class:`~airflow_provider_tasks.simulator.core.Fault` for the kinds. Faults are used in
        the order they were added; each matching request uses up one application of the first
        matching fault.
        """
        return self._faults.add(
            Fault(
                service,
                kind,
                times,
                path,
                status=status,
                code=code,
                retry_after=retry_after,
                delay=delay,
                probability=probability,
                seed=seed,
                method=method,
            )
        )

    def clear_faults(self) -> None:
        """Forget every pending fault."""
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still waiting for requests."""
        return self._faults.pending()

    def load_scenario(self, scenario: Mapping[str, Any]) -> list[tuple[str, str | int]]:
        """Add the items of a scenario (see :mod:`airflow_provider_tasks.simulator.scenario`);
        return ``(service, id)`` of each item created, in the scenario's order."""
        validate_scenario(scenario)
        created: list[tuple[str, str | int]] = []
        for raw in scenario.get("posteketab", []):
            created.append(("posteketab", self.posteketab.add_task(**item_kwargs("posteketab", raw))))
        for raw in scenario.get("openreplay", []):
            created.append(("openreplay", self.openreplay.add_job(**item_kwargs("openreplay", raw))))
        for raw in scenario.get("mobizon", []):
            created.append(("mobizon", self.mobizon.add_task(**item_kwargs("mobizon", raw))))
        if "openreplay_new_job_steps" in scenario:
            self.openreplay.new_job_steps = list(steps_from_json(scenario["openreplay_new_job_steps"]))
        return created

    # ---- counters -------------------------------------------------------------------------------

    def count(self, service: str | None = None, *, path: str | None = None, method: str | None = None) -> int:
        """Requests received by the APIs (faulted ones included) matching every filter given.

        ``path`` is a substring of the request path (no query string); ``method`` e.g. ``"GET"``.
        """
        if service is not None:
            check_service(service)
        return self._log.count(service, path=path, method=method)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received by the APIs, oldest first (control calls excluded)."""
        return self._log.records()

    def counters(self) -> dict[str, Any]:
        """``{"total", "by_service", "mobizon_rate_limited"}`` (what ``GET /_sim/counters`` returns)."""
        by_service = self._log.by_service()
        return {
            "total": sum(by_service.values()),
            "by_service": by_service,
            "mobizon_rate_limited": self.mobizon.rate_limited,
        }

    def reset_counters(self) -> None:
        """Forget the request records and the Mobizon rate-limit refusal count."""
        with self._lock:
            self._log.clear()
            self.mobizon.rate_limited = 0

    def reset(self) -> None:
        """Back to a fresh simulator: no items, faults, counters or status-change times."""
        with self._lock:
            for service in self._services.values():
                service.reset()
            self._faults.clear()
            self._log.clear()
            self.status_changed_at.clear()

"""Connections in every form Airflow has reach the same base URL, over real HTTP (issue 10, item 1 and 6).

For each service the connection is given the ways users write it: the JSON form (the full base URL in
``host``), the UI's separate fields (host, port, schema as the path, the ``scheme`` extra), a URI
written by hand, the URI that ``Connection.get_uri()`` (and so ``airflow connections export --format
env``) writes, and the URI form the simulator prints. Each is put in ``AIRFLOW_CONN_*``, and the hook
must reach the simulator: one request, counted by the simulator, on the blocking and the async path.
``tests/test_dag_runs.py`` round-trips the same connections through the real ``airflow connections``
CLI.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from airflow.providers.common.compat.sdk import Connection

from airflow_provider_tasks.exceptions import RemoteApiError, RemoteAuthError, RemoteTaskNotFound
from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor
from airflow_provider_tasks.simulator import Step


@dataclass(frozen=True)
class Service:
    hook: type[RemoteTaskHook]
    prefix: str  # the simulator's path prefix of the service
    secret: Callable[[Any], str]
    extra: Callable[[Any], dict[str, Any]]
    add: Callable[[Any], str | int]  # an item to read


SERVICES = {
    "posteketab": Service(
        PostEKetabHook,
        "posteketab/api/v2/public",
        lambda sim: sim.posteketab_token,
        lambda sim: {"timezone": "Asia/Tehran"},
        lambda sim: sim.posteketab.add_task(steps=[Step(2)]),
    ),
    "openreplay": Service(
        OpenReplayHook,
        "openreplay/v2",
        lambda sim: sim.openreplay_api_key,
        lambda sim: {"project_key": sim.openreplay_project_key},
        lambda sim: sim.openreplay.add_job(steps=[Step("running")]),
    ),
    "mobizon": Service(
        MobizonHook,
        "mobizon",
        lambda sim: sim.mobizon_api_key,
        lambda sim: {},
        lambda sim: sim.mobizon.add_task(steps=[Step(1, progress=40)]),
    ),
}


def _json_form(sim: Any, name: str, service: Service) -> str:
    host = f"{sim.url}/{service.prefix}"
    return json.dumps({"conn_type": name, "host": host, "password": service.secret(sim), "extra": service.extra(sim)})


def _fields_form(sim: Any, name: str, service: Service) -> str:
    """What the UI stores when host, port and schema are filled in separately."""
    return json.dumps(
        {
            "conn_type": name,
            "host": "127.0.0.1",
            "port": sim.port,
            "schema": service.prefix,
            "password": service.secret(sim),
            "extra": {"scheme": "http", **service.extra(sim)},
        }
    )


def _hand_written_uri(sim: Any, name: str, service: Service) -> str:
    query = "".join(f"&{key}={quote(str(value), safe='')}" for key, value in service.extra(sim).items())
    secret = quote(service.secret(sim), safe="")
    return f"{name}://:{secret}@127.0.0.1:{sim.port}/{quote(service.prefix, safe='')}?scheme=http{query}"


def _exported_uri(sim: Any, name: str, service: Service) -> str:
    """The URI ``airflow connections export --format env`` writes: ``Connection.get_uri()``."""
    conn = Connection(
        conn_id=f"{name}_default",
        conn_type=name,
        host=f"{sim.url}/{service.prefix}",
        password=service.secret(sim),
        extra=json.dumps(service.extra(sim)),
    )
    return str(conn.get_uri())


def _printed_uri(sim: Any, name: str, service: Service) -> str:
    """The URI form ``python -m airflow_provider_tasks.simulator`` prints."""
    return str(sim.connection_uris("uri")[f"{name}_default"])


FORMS = {
    "json": _json_form,
    "ui-fields": _fields_form,
    "hand-written-uri": _hand_written_uri,
    "exported-uri": _exported_uri,
    "simulator-uri": _printed_uri,
}


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("name", list(SERVICES))
def test_every_connection_form_reaches_the_service(provider_tasks_simulator, monkeypatch, name, form):
    sim = provider_tasks_simulator
    sim.mobizon.rate_limit = None  # three calls in a row; the rate limit has tests of its own
    service = SERVICES[name]
    value = FORMS[form](sim, name, service)
    monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}_DEFAULT", value)
    item_id = service.add(sim)

    hook = service.hook()
    assert hook.settings.base_url == f"{sim.url}/{service.prefix}", value
    assert hook.test_connection()[0] is True
    assert hook.get_snapshot(item_id).state.value == "running"
    assert sim.count(name) == 2

    async def read_async() -> str:  # the triggerer's path: get_async_connection
        async_hook = service.hook()
        try:
            return (await async_hook.aget_snapshot(item_id)).state.value
        finally:
            await async_hook.aclose()

    assert asyncio.run(read_async()) == "running"
    assert sim.count(name) == 3


def test_a_uri_with_the_scheme_in_its_host_reaches_plain_http(provider_tasks_simulator, monkeypatch):
    """``openreplay://http%3A%2F%2F127.0.0.1:PORT/...``: the http scheme given in the host itself."""
    sim = provider_tasks_simulator
    key = quote(sim.openreplay_api_key, safe="")
    uri = f"openreplay://:{key}@http%3A%2F%2F127.0.0.1:{sim.port}/openreplay%2Fv2?project_key={sim.openreplay_project_key}"
    monkeypatch.setenv("AIRFLOW_CONN_OPENREPLAY_DEFAULT", uri)
    hook = OpenReplayHook()
    assert hook.settings.base_url == sim.openreplay_url
    assert hook.test_connection()[0] is True


@pytest.mark.parametrize("name", list(SERVICES))
def test_a_uri_without_scheme_is_https(monkeypatch, name):
    monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}_DEFAULT", f"{name}://:secret-value@api.example.ir/api%2Fv2")
    assert SERVICES[name].hook().settings.base_url == "https://api.example.ir/api/v2"


@pytest.mark.parametrize("name", list(SERVICES))
def test_a_404_without_the_services_envelope_names_the_base_url(provider_tasks_simulator, monkeypatch, name):
    """A wrong path answers aiohttp's own ``404: Not Found``: a wrong base URL, not a missing task."""
    sim = provider_tasks_simulator
    service = SERVICES[name]
    wrong = f"{sim.url}/not-{service.prefix.replace('/', '-')}"
    conn = json.loads(_json_form(sim, name, service))
    monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}_DEFAULT", json.dumps({**conn, "host": wrong}))
    item_id = service.add(sim)
    with pytest.raises(RemoteApiError) as info:
        service.hook().get_snapshot(item_id)
    assert not isinstance(info.value, RemoteTaskNotFound)
    assert info.value.code == 404
    assert f"check the connection's base URL ({wrong})" in str(info.value)
    ok, message = service.hook().test_connection()
    assert not ok and wrong in message


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("name", ["posteketab", "mobizon"])
def test_a_bare_401_or_403_is_an_auth_error_naming_the_base_url(sim, name, status):
    item_id = SERVICES[name].add(sim)
    sim.add_fault(name, "html", status=status, times=1)
    hook = SERVICES[name].hook()
    with pytest.raises(RemoteAuthError) as info:
        hook.get_snapshot(item_id)
    assert info.value.code == status
    assert f"its base URL ({sim.url}/{SERVICES[name].prefix})" in str(info.value)


# ---------------------------------------------------------------------------- conn_type of another service


def _type_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "is of type" in record.getMessage()
    ]


def test_a_generic_http_connection_works_with_one_warning_naming_both_types(
    provider_tasks_simulator, monkeypatch, caplog
):
    sim = provider_tasks_simulator
    conn = {"conn_type": "http", "host": sim.mobizon_url, "password": sim.mobizon_api_key}
    monkeypatch.setenv("AIRFLOW_CONN_MOBIZON_DEFAULT", json.dumps(conn))
    task_id = sim.mobizon.add_task(steps=[Step(1, polls=2), Step(2)])
    caplog.set_level(logging.DEBUG)
    sensor = MobizonTaskSensor(task_id="wait", mobizon_task_id=task_id, poke_interval=1)
    from airflow_provider_tasks.testing import FakeTaskInstance

    result = sensor.execute({"ti": FakeTaskInstance()})  # three polls, one hook
    assert result["status"] == 2
    assert sim.count("mobizon", path="getstatus") == 3
    warnings = _type_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "'http'" in warnings[0] and "'mobizon'" in warnings[0]


def test_a_connection_of_its_own_type_logs_no_type_warning(sim, caplog):
    caplog.set_level(logging.DEBUG)
    assert PostEKetabHook().test_connection()[0] is True
    assert _type_warnings(caplog) == []

"""Mobizon's code 13 hands an account to another regional server (issue 10, item 3): the hook follows it
only to ``api.mobizon.*`` over https or to the connection's own host; anywhere else is an error naming
the refused host, and the API key never travels there."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_tasks.exceptions import RemoteApiError
from airflow_provider_tasks.hooks.base import ApiCall, ConnectionSettings
from airflow_provider_tasks.hooks.mobizon import MobizonHook, ServerHandOff, _is_mobizon_api_host
from airflow_provider_tasks.simulator import Simulator, Step


@pytest.fixture
def second_server() -> Iterator[Simulator]:
    """Another server on 127.0.0.1 that would happily answer Mobizon calls (and counts them)."""
    with Simulator(mobizon_api_key="sim-mobizon-key", mobizon_rate_limit=None) as other:
        yield other


def _hand_off_to(sim: Any, target: str) -> None:
    """Make the next Mobizon answer of ``sim`` a code 13 naming ``target`` in ``data``."""
    sim.mobizon._alt_url = lambda: target
    sim.add_fault("mobizon", "code", code=13, times=1)


@pytest.mark.parametrize("path", ["blocking", "async"])
@pytest.mark.parametrize("foreign", ["another port", "another host name"])
def test_code_13_to_a_foreign_host_is_refused_and_the_key_never_sent(sim, second_server, path, foreign):
    host = "127.0.0.1" if foreign == "another port" else "localhost"
    target = f"http://{host}:{second_server.port}/mobizon"
    task_id = second_server.mobizon.add_task(task_id=sim.mobizon.add_task(steps=[Step(2)]), steps=[Step(2)])
    _hand_off_to(sim, target)
    hook = MobizonHook()
    with pytest.raises(RemoteApiError) as info:
        if path == "blocking":
            hook.get_task_status(task_id)
        else:

            async def read() -> Any:
                try:
                    return await hook.aget_task_status(task_id)
                finally:
                    await hook.aclose()

            asyncio.run(read())
    text = str(info.value)
    assert info.value.code == 13
    assert f"hands this account to '{host}:{second_server.port}'" in text
    assert "not a Mobizon API server" in text and "the API key was not sent there" in text
    assert sim.mobizon_api_key not in text
    assert second_server.count() == 0 and second_server.requests == []
    assert sim.count("mobizon") == 1  # refused at once, not retried
    assert hook.settings.base_url == sim.mobizon_url  # still the connection's own server


def test_code_13_to_the_connections_own_host_is_followed_once(sim, caplog, capsys):
    task_id = sim.mobizon.add_task(steps=[Step(2)])
    _hand_off_to(sim, sim.mobizon_alt_url)  # same host and port, another path: the simulator's second region
    hook = MobizonHook()
    assert hook.get_task_status(task_id)["status"] == 2
    assert sim.count("mobizon", path="/mobizon-alt/") == 1
    assert hook.settings.base_url == sim.mobizon_alt_url
    # Airflow 2.11 logs through stdlib logging (caplog), Airflow 3 through structlog (stdout).
    moved = [r.getMessage() for r in caplog.records if "moved this account" in r.getMessage()] or [
        line for line in capsys.readouterr().out.splitlines() if "moved this account" in line
    ]
    assert len(moved) == 1 and sim.mobizon_alt_url in moved[0]


@pytest.mark.parametrize(
    ("host", "mobizon"),
    [
        ("api.mobizon.kz", True),
        ("api.mobizon.ua", True),
        ("api.mobizon.gmbh", True),
        ("api.mobizon.com.br", True),
        ("API.Mobizon.KZ.", True),
        ("api.mobizon.kz.example.com", False),  # example.com's owner would see the key
        ("api.mobizon.evil.com", False),
        ("api.mobizon.com.example", False),
        ("mobizon.kz", False),
        ("api2.mobizon.kz", False),
        ("api.mobizon-kz.com", False),
        ("api.mobizon.kz-evil", False),
        ("api.mobizon", False),
        ("127.0.0.1", False),
    ],
)
def test_which_hosts_are_mobizon_api_servers(host, mobizon):
    assert _is_mobizon_api_host(host) is mobizon


def _settings(base_url: str) -> ConnectionSettings:
    return ConnectionSettings(conn_id="mobizon_default", base_url=base_url, secret="k" * 12, timeout=5)


@pytest.mark.parametrize(
    ("own", "target", "followed"),
    [
        ("https://api.mobizon.kz", "https://api.mobizon.ua", "https://api.mobizon.ua"),
        ("https://api.mobizon.kz", "https://api.mobizon.com.br/", "https://api.mobizon.com.br"),
        ("http://127.0.0.1:8765/mobizon", "http://127.0.0.1:8765/mobizon-alt", "http://127.0.0.1:8765/mobizon-alt"),
        ("https://api.mobizon.kz", "http://api.mobizon.ua", None),  # the key in a URL, unencrypted
        ("https://api.mobizon.kz", "https://api.mobizon.kz.example.com", None),
        ("https://api.mobizon.kz", "https://api.mobizon.kz@example.com", None),
        ("http://127.0.0.1:8765/mobizon", "http://127.0.0.1:9999/mobizon", None),
    ],
)
def test_the_host_rule(own, target, followed):
    """Unit level: which hand-offs ``_redirect`` follows (an ``api.mobizon.*`` host is never contacted here)."""
    hook = MobizonHook()
    call = ApiCall("POST", "taskqueue/getstatus", item_id=7)
    error = ServerHandOff("Mobizon", target, item_id=7)
    if followed is None:
        with pytest.raises(RemoteApiError, match="the API key was not sent there"):
            hook._redirect(call, error, _settings(own), 0)
    else:
        redirected = hook._redirect(call, error, _settings(own), 0)
        assert redirected is not None and redirected.base_url == followed


def test_a_bare_domain_in_data_is_https(sim):
    hook = MobizonHook()
    hook._settings = _settings(sim.mobizon_url)
    assert hook._server_url("api.mobizon.ua", "") == "https://api.mobizon.ua"
    assert hook._server_url({"domain": f"127.0.0.1:{sim.port}/mobizon-alt"}, "") == sim.mobizon_alt_url

"""Permanent transport errors fail fast (issue 10, item 2): a TLS failure or a malformed URL is tried
once, on the blocking and the async path alike, and the error names the base URL and what to check."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_tasks.exceptions import RemoteApiError
from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor
from airflow_provider_tasks.testing import FakeTaskInstance

HOOKS = {"posteketab": PostEKetabHook, "openreplay": OpenReplayHook, "mobizon": MobizonHook}
TLS_HINT = "its scheme (https vs http) and port must match the server"
URL_HINT = "check the connection's host, port and schema (path)"


class PlainHttpServer:
    """A plain-HTTP server on 127.0.0.1 that counts the connections made to it (a TLS handshake
    included: the simulator counts only requests it could read)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)  # accept() wakes up to see close()
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(4096)  # a TLS ClientHello, read as a bad HTTP request
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def plain_http() -> Iterator[PlainHttpServer]:
    server = PlainHttpServer()
    yield server
    server.close()


def _connect(monkeypatch: pytest.MonkeyPatch, name: str, host: str, extra: dict[str, Any] | None = None) -> None:
    conn = {"conn_type": name, "host": host, "password": "secret-value-123", "extra": extra or {}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}_DEFAULT", json.dumps(conn))


def _read(name: str, hook: Any) -> Any:
    if name == "posteketab":
        return hook.get_task("some-task")
    if name == "openreplay":
        return hook.get_job(7, "project")
    return hook.get_task_status(7)


async def _aread(name: str, hook: Any) -> Any:
    try:
        if name == "posteketab":
            return await hook.aget_task("some-task")
        if name == "openreplay":
            return await hook.aget_job(7, "project")
        return await hook.aget_task_status(7)
    finally:
        await hook.aclose()


def _retry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "retrying" in r.getMessage()]


def _fails_at_once(name: str, path: str) -> RemoteApiError:
    """One read through the ``path`` transport; it must fail without a retry (a retry waits 5 s)."""
    hook = HOOKS[name](retry_delay=5.0)
    started = time.monotonic()
    with pytest.raises(RemoteApiError) as info:
        if path == "blocking":
            _read(name, hook)
        else:
            asyncio.run(_aread(name, hook))
    assert time.monotonic() - started < 5
    return info.value


@pytest.mark.parametrize("path", ["blocking", "async"])
@pytest.mark.parametrize("name", list(HOOKS))
def test_https_to_a_plain_http_server_is_one_attempt(plain_http, monkeypatch, caplog, name, path):
    base = f"https://127.0.0.1:{plain_http.port}/api"
    _connect(monkeypatch, name, base)
    caplog.set_level(logging.DEBUG)
    error = _fails_at_once(name, path)
    assert plain_http.connections == 1
    text = str(error)
    assert "SSL" in text and f"(base URL {base})" in text and TLS_HINT in text
    assert _retry_warnings(caplog) == []


def test_https_to_the_simulator_fails_the_sensor_at_once(provider_tasks_simulator, monkeypatch):
    sim = provider_tasks_simulator
    task_id = sim.posteketab.add_task()
    base = f"https://127.0.0.1:{sim.port}/posteketab/api/v2/public"
    _connect(monkeypatch, "posteketab", base)
    sensor = PostEKetabTaskSensor(task_id="wait", posteketab_task_id=task_id, poke_interval=1, retries=0)
    started = time.monotonic()
    with pytest.raises(RemoteApiError, match=r"WRONG_VERSION_NUMBER|wrong version number") as info:
        sensor.execute({"ti": FakeTaskInstance()})
    assert time.monotonic() - started < 5
    assert base in str(info.value) and TLS_HINT in str(info.value)
    assert sim.count("posteketab") == 0  # the handshake never became a request


@pytest.mark.parametrize("path", ["blocking", "async"])
@pytest.mark.parametrize("name", list(HOOKS))
def test_a_host_that_is_no_valid_url_is_one_attempt(monkeypatch, caplog, name, path):
    """A label IDNA cannot encode (60 'é' give a 66-character label): only the HTTP library finds out."""
    base = "https://" + "é" * 60 + ".example/api"
    _connect(monkeypatch, name, base)
    caplog.set_level(logging.DEBUG)
    error = _fails_at_once(name, path)
    assert f"(base URL {base})" in str(error) and URL_HINT in str(error)
    assert _retry_warnings(caplog) == []


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("https://bad..host/api", "an empty or over-long label"),
        ("https://" + "a" * 64 + ".example/api", "an empty or over-long label"),
        ("http://[::1/api", "Invalid IPv6 URL"),
        ("https://api.example.ir:99999/api", "bad port"),
        ("ftp://api.example.ir/api", "host must be an http(s) base URL"),
    ],
)
def test_a_malformed_host_is_refused_before_any_request(monkeypatch, host, why):
    _connect(monkeypatch, "posteketab", host)
    with pytest.raises(ValueError, match="posteketab_default") as info:
        PostEKetabHook().get_task("some-task")
    assert why in str(info.value) and repr(host) in str(info.value)

"""MobizonHook against the simulator over real HTTP, including the key's redaction."""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_provider_tasks.exceptions import RemoteApiError, RemoteAuthError, RemoteTaskNotFound, RemoteTransientError
from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.states import RemoteState


def test_get_task_status_coerces_numeric_strings(sim):
    task_id = sim.mobizon.add_task(steps=[Step(1, progress=40)])
    status = MobizonHook().get_task_status(task_id)
    assert status["progress"] == 40 and status["status"] == 1


def test_unknown_task_is_not_found(sim):
    with pytest.raises(RemoteTaskNotFound) as info:
        MobizonHook().get_task_status(424242)
    assert info.value.code == 2 and "424242" in str(info.value)


def test_bad_key_is_auth_error(sim, monkeypatch):
    conn = json.loads(sim.connection_uris()["mobizon_default"])
    conn["password"] = "wrong-mobizon-key"
    monkeypatch.setenv("AIRFLOW_CONN_MZ_BAD", json.dumps(conn))
    with pytest.raises(RemoteAuthError) as info:
        MobizonHook("mz_bad").get_task_status(1)
    assert info.value.code == 8 and "wrong-mobizon-key" not in str(info.value)


@pytest.mark.parametrize("code", [10, 30, 999])
def test_transient_codes_are_retried(sim, code):
    task_id = sim.mobizon.add_task(steps=[Step(2, progress=100)])
    sim.add_fault("mobizon", "code", code=code, times=1)
    assert MobizonHook().get_task_status(task_id)["status"] == 2


@pytest.mark.parametrize("code", [8, 14])
def test_permanent_codes_fail_fast(sim, code):
    sim.add_fault("mobizon", "code", code=code, times=5)
    with pytest.raises(RemoteAuthError):
        MobizonHook().get_task_status(1)
    assert sim.count("mobizon") == 1


def test_code_13_follows_the_named_server_once_and_logs_it(sim, logs):
    task_id = sim.mobizon.add_task(steps=[Step(2, progress=100)])
    sim.add_fault("mobizon", "code", code=13, times=1)
    hook = MobizonHook()
    assert hook.get_task_status(task_id)["status"] == 2
    assert hook.settings.base_url == sim.mobizon_alt_url
    assert sim.mobizon_alt_url in logs()
    assert sim.count("mobizon", path="/mobizon-alt/") == 1


def test_code_13_twice_is_an_error(sim):
    sim.add_fault("mobizon", "code", code=13, times=2)
    with pytest.raises(RemoteApiError) as info:
        MobizonHook().get_task_status(1)
    assert info.value.code == 13


def test_rate_limit_is_survived(sim):
    task_id = sim.mobizon.add_task(steps=[Step(1, polls=1, progress=50), Step(2, progress=100)])
    hook = MobizonHook()
    hook.get_task_status(task_id)
    assert hook.get_task_status(task_id)["status"] == 2  # second call within 1 s: code 30, retried
    assert sim.mobizon.rate_limited >= 1


@pytest.mark.parametrize("bad", [None, "", "abc", 0, -5, True, 2.5])
def test_bad_ids_are_refused_before_any_request(sim, bad):
    with pytest.raises(ValueError, match="mobizon_task_id"):
        MobizonHook().get_task_status(bad)
    assert sim.count() == 0


def test_snapshot_maps_statuses_and_progress(sim):
    hook = MobizonHook()
    for status, state in [(0, "pending"), (1, "running"), (2, "succeeded"), (3, "failed")]:
        assert hook.snapshot(1, {"status": status, "progress": 10}).state == RemoteState(state)
    assert hook.snapshot(1, {"status": "1", "progress": "40"}).progress == 40
    with pytest.raises(RemoteApiError, match="unknown status value 7"):
        hook.snapshot(1, {"status": 7})


def test_async_get_task_status(sim):
    task_id = sim.mobizon.add_task(steps=[Step(3, progress=20)])

    async def main():
        hook = MobizonHook()
        try:
            return await hook.aget_task_status(task_id)
        finally:
            await hook.aclose()

    assert asyncio.run(main()) == {"progress": 20, "status": 3}


def test_key_never_reaches_logs_or_errors(sim, logs):
    """urllib3 logs full request URLs at DEBUG; the key travels in the URL."""
    key = sim.mobizon_api_key
    task_id = sim.mobizon.add_task(steps=[Step(2, progress=100)])
    sim.add_fault("mobizon", "drop", times=1)
    sim.add_fault("mobizon", "http", status=500, times=1)
    sim.add_fault("mobizon", "code", code=13, times=1)
    hook = MobizonHook()
    hook.get_task_status(task_id)
    with pytest.raises(RemoteTaskNotFound) as info:
        hook.get_task_status(987654)
    errors = [str(info.value), repr(info.value), repr(hook), repr(hook.settings)]
    assert hook.test_connection()[0]
    text = logs()
    assert "apikey=***" in text.lower(), "urllib3 DEBUG lines with the redacted URL were expected"
    assert key not in text
    for line in errors:
        assert key not in line


def test_test_connection(sim, monkeypatch):
    ok, message = MobizonHook().test_connection()
    assert ok, message
    conn = json.loads(sim.connection_uris()["mobizon_default"])
    conn["password"] = "wrong"
    monkeypatch.setenv("AIRFLOW_CONN_MZ_BAD", json.dumps(conn))
    ok, message = MobizonHook("mz_bad").test_connection()
    assert not ok and "code 8" in message


def test_transport_failures_after_budget(sim):
    sim.add_fault("mobizon", "drop", times=10)
    with pytest.raises(RemoteTransientError) as info:
        MobizonHook(retry_limit=2).get_task_status(1)
    assert sim.mobizon_api_key not in str(info.value)

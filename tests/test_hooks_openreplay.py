"""OpenReplayHook against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_provider_tasks.exceptions import RemoteApiError, RemoteAuthError, RemoteTaskNotFound
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.states import RemoteState


def test_get_job_uses_the_connection_project_by_default(sim):
    job_id = sim.openreplay.add_job(user_id="u1", steps=[Step("completed")])
    job = OpenReplayHook().get_job(job_id)
    assert job["jobId"] == job_id and job["status"] == "completed" and job["referenceId"] == "u1"


def test_explicit_project_key_wins_and_foreign_project_is_auth_error(sim):
    job_id = sim.openreplay.add_job(steps=[Step("completed")])
    assert OpenReplayHook().get_job(job_id, project_key=sim.openreplay_project_key)["jobId"] == job_id
    with pytest.raises(RemoteAuthError) as info:
        OpenReplayHook().get_job(job_id, project_key="someone-elses")
    assert info.value.code == 401 and "empty body" in str(info.value)


def test_missing_job_is_not_found(sim):
    with pytest.raises(RemoteTaskNotFound) as info:
        OpenReplayHook().get_job(99999)
    assert info.value.code == 404 and "job not found" in str(info.value) and "99999" in str(info.value)


def test_bad_key_is_auth_error_without_leaking_it(sim, monkeypatch):
    conn = json.loads(sim.connection_uris()["openreplay_default"])
    conn["password"] = "bad-key-123"
    monkeypatch.setenv("AIRFLOW_CONN_OR_BAD", json.dumps(conn))
    with pytest.raises(RemoteAuthError) as info:
        OpenReplayHook("or_bad").list_jobs()
    assert "bad-key-123" not in str(info.value)


def test_list_jobs_and_iter_jobs(sim):
    ids = [sim.openreplay.add_job(user_id=f"user{i}", steps=[Step("completed")]) for i in range(5)]
    hook = OpenReplayHook()
    first = hook.list_jobs(limit=2, page=1)
    assert [job["jobId"] for job in first] == sorted(ids, reverse=True)[:2]
    assert [job["jobId"] for job in hook.iter_jobs(page_size=2)] == sorted(ids, reverse=True)
    with pytest.raises(ValueError, match="limit"):
        hook.list_jobs(limit=201)


def test_cancel_job_and_second_cancel(sim):
    job_id = sim.openreplay.add_job(steps=[Step("scheduled")])
    hook = OpenReplayHook()
    assert hook.cancel_job(job_id)["status"] == "cancelled"
    with pytest.raises(RemoteApiError) as info:
        hook.cancel_job(job_id)
    assert info.value.code == 400 and "already been cancelled" in str(info.value)


def test_delete_user_data_creates_a_job_and_409_on_duplicate(sim):
    hook = OpenReplayHook()
    job = hook.delete_user_data("someone@example.com")
    assert job["status"] == "scheduled" and job["action"] == "delete_user_data"
    assert job["referenceId"] == "someone@example.com"
    with pytest.raises(RemoteApiError) as info:
        hook.delete_user_data("someone@example.com")
    assert info.value.code == 409


@pytest.mark.parametrize("bad", ["", "   ", None, "x" * 257])
def test_delete_user_data_refuses_bad_user_ids_before_any_request(sim, bad):
    with pytest.raises(ValueError, match="user_id"):
        OpenReplayHook().delete_user_data(bad)
    assert sim.count() == 0


@pytest.mark.parametrize("bad", [None, "", "abc", -1, 0, 1.5, True])
def test_get_job_refuses_bad_ids_before_any_request(sim, bad):
    with pytest.raises(ValueError, match="job_id"):
        OpenReplayHook().get_job(bad)
    assert sim.count() == 0


def test_no_project_anywhere_is_a_clear_error(sim, monkeypatch):
    conn = json.loads(sim.connection_uris()["openreplay_default"])
    conn["extra"].pop("project_key", None)
    monkeypatch.setenv("AIRFLOW_CONN_OR_NOPROJ", json.dumps(conn))
    with pytest.raises(ValueError, match="project_key"):
        OpenReplayHook("or_noproj").get_job(1)
    assert sim.count() == 0


def test_snapshot_maps_statuses(sim):
    hook = OpenReplayHook()
    for status, state in [
        ("scheduled", "pending"),
        ("running", "running"),
        ("completed", "succeeded"),
        ("failed", "failed"),
        ("cancelled", "cancelled"),
    ]:
        assert hook.snapshot(1, {"status": status}).state == RemoteState(state)
    failed = hook.snapshot(1, {"status": "failed", "errors": "disk full"})
    assert failed.message == "disk full"
    with pytest.raises(RemoteApiError, match="'paused'"):
        hook.snapshot(1, {"status": "paused"})


def test_async_methods(sim):
    job_id = sim.openreplay.add_job(steps=[Step("running")])

    async def main():
        hook = OpenReplayHook()
        try:
            return (await hook.aget_job(job_id), await hook.alist_jobs(), await hook.acancel_job(job_id))
        finally:
            await hook.aclose()

    job, jobs, cancelled = asyncio.run(main())
    assert job["status"] == "running" and jobs[0]["jobId"] == job_id and cancelled["status"] == "cancelled"


def test_server_errors_are_retried(sim):
    job_id = sim.openreplay.add_job(steps=[Step("completed")])
    sim.add_fault("openreplay", "http", status=502, times=1)
    sim.add_fault("openreplay", "rate_limit", retry_after="0", times=1)
    assert OpenReplayHook().get_job(job_id)["status"] == "completed"
    assert sim.count("openreplay") == 3


def test_test_connection(sim, monkeypatch):
    ok, message = OpenReplayHook().test_connection()
    assert ok, message
    conn = json.loads(sim.connection_uris()["openreplay_default"])
    conn["password"] = "wrong"
    monkeypatch.setenv("AIRFLOW_CONN_OR_BAD", json.dumps(conn))
    ok, message = OpenReplayHook("or_bad").test_connection()
    assert not ok and "401" in message

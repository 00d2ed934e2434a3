"""PostEKetabHook against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time

import pendulum
import pytest

from airflow_provider_tasks.exceptions import (
    RemoteApiError,
    RemoteAuthError,
    RemoteTaskNotFound,
    RemoteTransientError,
)
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.states import RemoteState


def test_get_task_returns_entries_with_aware_timestamps(sim):
    task_id = sim.posteketab.add_task(task_type=0, steps=[Step(2, polls=1), Step(3)])
    hook = PostEKetabHook()
    running = hook.get_task(task_id)
    assert running["id"] == task_id
    assert running["task_status"] == 2
    assert running["ended_at"] is None
    done = hook.get_task(task_id)
    assert done["task_status"] == 3
    for key in ("created_at", "started_at", "ended_at"):
        assert isinstance(done[key], pendulum.DateTime), key
        assert done[key].tzinfo is not None
        assert done[key].timezone_name == "Asia/Tehran"
    assert isinstance(done["task_result"], list) and done["task_result"]


def test_timezone_extra_is_used(sim, monkeypatch):
    import json

    conn = json.loads(sim.connection_uris()["posteketab_default"])
    conn["extra"]["timezone"] = "UTC"
    monkeypatch.setenv("AIRFLOW_CONN_PK_UTC", json.dumps(conn))
    task_id = sim.posteketab.add_task(steps=[Step(3)])
    task = PostEKetabHook("pk_utc").get_task(task_id)
    assert task["created_at"].timezone_name == "UTC"


def test_accepts_token_already_prefixed_with_jwt(sim, monkeypatch):
    import json

    conn = json.loads(sim.connection_uris()["posteketab_default"])
    conn["password"] = "JWT " + conn["password"]
    monkeypatch.setenv("AIRFLOW_CONN_PK_JWT", json.dumps(conn))
    task_id = sim.posteketab.add_task(steps=[Step(3)])
    assert PostEKetabHook("pk_jwt").get_task(task_id)["task_status"] == 3


def test_unknown_task_is_not_found_with_service_code(sim):
    with pytest.raises(RemoteTaskNotFound) as info:
        PostEKetabHook().get_task("no-such-task")
    assert info.value.code == 362
    assert "Post-e-Ketab" in str(info.value) and "no-such-task" in str(info.value) and "362" in str(info.value)


def test_non_uuid_ids_are_sent_as_is(sim):
    task_id = sim.posteketab.add_task("a432b493-d961-3bfs-38m4-gd5z62h0043e", steps=[Step(3)])
    assert PostEKetabHook().get_task(task_id)["id"] == task_id


def test_bad_token_is_an_auth_error(sim, monkeypatch):
    import json

    conn = json.loads(sim.connection_uris()["posteketab_default"])
    conn["password"] = "wrong-token"
    monkeypatch.setenv("AIRFLOW_CONN_PK_BAD", json.dumps(conn))
    with pytest.raises(RemoteAuthError) as info:
        PostEKetabHook("pk_bad").get_task("x")
    assert info.value.code == 332
    assert "wrong-token" not in str(info.value)


@pytest.mark.parametrize("code", [301, 350, 364])
def test_internal_error_codes_are_retried(sim, code):
    task_id = sim.posteketab.add_task(steps=[Step(3)])
    sim.add_fault("posteketab", "code", code=code, times=2)
    assert PostEKetabHook().get_task(task_id)["task_status"] == 3
    assert sim.count("posteketab", path="task/detail") == 3


def test_transient_errors_give_up_after_the_retry_budget(sim):
    sim.add_fault("posteketab", "http", status=503, times=10)
    with pytest.raises(RemoteTransientError) as info:
        PostEKetabHook(retry_limit=3).get_task("x")
    assert info.value.code == 503
    assert sim.count("posteketab") == 3


@pytest.mark.parametrize("kind", ["html", "truncated_json"])
def test_non_json_bodies_are_transport_errors(sim, kind):
    task_id = sim.posteketab.add_task(steps=[Step(3)])
    sim.add_fault("posteketab", kind, times=1)
    assert PostEKetabHook().get_task(task_id)["task_status"] == 3


def test_list_tasks_and_iter_tasks_page_through_everything(sim):
    ids = {sim.posteketab.add_task(steps=[Step(3)]) for _ in range(7)}
    hook = PostEKetabHook()
    page = hook.list_tasks(page=1, count=3)
    assert len(page["list"]) == 3 and page["total_count"] == 7 and page["page"] == 1
    assert {task["id"] for task in hook.iter_tasks(count=3)} == ids
    assert sim.count("posteketab", path="task/list") == 1 + 3


def test_list_arguments_are_checked_before_any_request(sim):
    with pytest.raises(ValueError, match="page"):
        PostEKetabHook().list_tasks(page=0)
    with pytest.raises(ValueError, match="count"):
        PostEKetabHook().list_tasks(count=-1)
    assert sim.count() == 0


def test_snapshot_maps_every_status_and_refuses_unknown_ones(sim):
    hook = PostEKetabHook()
    expected = {0: "pending", 1: "pending", 2: "running", 3: "succeeded", 4: "failed"}
    for status, state in expected.items():
        assert hook.snapshot("t", {"task_status": status}).state == RemoteState(state)
    with pytest.raises(RemoteApiError, match="unknown status value 9"):
        hook.snapshot("t", {"task_status": 9})


def test_async_methods(sim):
    task_id = sim.posteketab.add_task(steps=[Step(3)])

    async def main():
        hook = PostEKetabHook()
        try:
            task = await hook.aget_task(task_id)
            page = await hook.alist_tasks(count=5)
            snap = await hook.aget_snapshot(task_id)
        finally:
            await hook.aclose()
        return task, page, snap

    task, page, snap = asyncio.run(main())
    assert task["task_status"] == 3
    assert page["list"][0]["id"] == task_id
    assert snap.state is RemoteState.SUCCEEDED


def test_test_connection(sim, monkeypatch):
    ok, message = PostEKetabHook().test_connection()
    assert ok, message
    bad = {"conn_type": "posteketab", "host": sim.posteketab_url, "password": "nope"}
    monkeypatch.setenv("AIRFLOW_CONN_PK_BAD", json.dumps(bad))
    ok, message = PostEKetabHook("pk_bad").test_connection()
    assert not ok and "332" in message and "nope" not in message


def test_read_timeouts_use_the_connection_timeout_and_are_retried(sim, monkeypatch):
    conn = json.loads(sim.connection_uris()["posteketab_default"])
    conn["extra"]["timeout"] = 0.5
    monkeypatch.setenv("AIRFLOW_CONN_PK_SLOW", json.dumps(conn))
    task_id = sim.posteketab.add_task(steps=[Step(3)])
    sim.add_fault("posteketab", "slow", delay=2, times=1)
    hook = PostEKetabHook("pk_slow")
    assert hook.settings.timeout == 0.5
    started = time.monotonic()
    assert hook.get_task(task_id)["task_status"] == 3
    assert time.monotonic() - started < 1.9, "the slow answer was awaited instead of timing out"
    assert hook.get_conn() is hook.get_conn()  # one session, reused


def test_async_read_timeouts_are_retried(sim, monkeypatch):
    conn = json.loads(sim.connection_uris()["posteketab_default"])
    conn["extra"]["timeout"] = 0.5
    monkeypatch.setenv("AIRFLOW_CONN_PK_SLOW", json.dumps(conn))
    task_id = sim.posteketab.add_task(steps=[Step(3)])
    sim.add_fault("posteketab", "slow", delay=2, times=1)

    async def main():
        hook = PostEKetabHook("pk_slow")
        try:
            return await hook.aget_task(task_id)
        finally:
            await hook.aclose()

    assert asyncio.run(main())["task_status"] == 3


@pytest.mark.parametrize(
    ("extra", "password", "host", "match"),
    [
        ({"timeout": "soon"}, "tok", None, "timeout"),
        ({"timeout": -1}, "tok", None, "timeout"),
        ({"timezone": "Mars/Olympus"}, "tok", None, "timezone"),
        ({}, "", None, "password"),
        ({}, "tok", "ftp://example.com", "host"),
    ],
)
def test_bad_connections_are_refused_before_any_request(sim, monkeypatch, extra, password, host, match):
    conn = {"conn_type": "posteketab", "host": host or sim.posteketab_url, "password": password, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_PK_BROKEN", json.dumps(conn))
    with pytest.raises(ValueError, match=match):
        PostEKetabHook("pk_broken").get_task("x")
    assert sim.count() == 0


def _rows(count):
    return [
        {"local_id": n, "full_name": "زهرا احمدی", "province": 8, "city": 1, "message": "ok", "is_success": n % 7 != 0}
        for n in range(count)
    ]


def test_stream_task_reads_big_results_row_by_row_from_a_temporary_file(sim):
    rows = _rows(20_000)  # some 2 MB: beyond what the spool keeps in memory
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=rows)
    with PostEKetabHook().stream_task(task_id) as task:
        streamed = task["task_result"]
        assert task["task_status"] == 3 and isinstance(task["ended_at"], pendulum.DateTime)
        assert len(streamed) == 20_000
        assert list(streamed) == rows and list(streamed) == rows  # each pass reads the file again
    with pytest.raises(ValueError):  # closed with the block
        list(streamed)


@pytest.mark.parametrize("kind", ["truncated_json", "html", "drop"])
def test_stream_task_retries_bodies_that_break_off(sim, kind):
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=_rows(3000))
    sim.add_fault("posteketab", kind, times=2)
    with PostEKetabHook().stream_task(task_id) as task:
        assert len(task["task_result"]) == 3000
    assert sim.count("posteketab") == 3


def test_stream_task_errors_name_the_service_code(sim):
    with pytest.raises(RemoteTaskNotFound) as info, PostEKetabHook().stream_task("no-such-task"):
        pass
    assert info.value.code == 362


def test_snapshot_without_rows_keeps_them_out_but_quotes_failures(sim):
    rows = [{**row, "message": f"bad city {row['local_id'] % 9}", "is_success": False} for row in _rows(5000)]
    task_id = sim.posteketab.add_task(steps=[Step(4)], task_result=rows)
    snapshot = PostEKetabHook().get_snapshot(task_id, rows=False)
    assert snapshot.state.value == "failed" and "task_result" not in snapshot.raw
    assert snapshot.message is not None and snapshot.message.startswith("bad city 0; bad city 1;")
    assert "(and 2220 more row(s) with other messages)" in snapshot.message  # 5 of 9 messages quoted

"""Property-based: whatever bytes a service (or a proxy) sends, the response parsers either return a
valid result or raise one of the package's documented errors, never anything else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_tasks.exceptions import RemoteError
from airflow_provider_tasks.hooks.base import ApiCall, ApiResponse, RemoteTaskHook
from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.states import RemoteState, TaskSnapshot

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504]) | st.integers(
    100, 599
)
numbers = st.integers(-5, 1000) | st.text(max_size=5) | st.none() | st.sampled_from(["40", "2", "0", "13"])

posteketab_bodies = st.fixed_dictionaries(
    {
        "returns": st.fixed_dictionaries({"status": numbers | json_values, "message": json_values}),
        "entries": json_values
        | st.fixed_dictionaries(
            {"task_status": numbers, "task_result": json_values, "created_at": st.text(max_size=30) | st.none()}
        ),
    }
)
openreplay_bodies = st.fixed_dictionaries({"data": json_values | st.fixed_dictionaries({"status": json_values})}) | (
    st.fixed_dictionaries({"error": json_values})
)
mobizon_bodies = st.fixed_dictionaries(
    {
        "code": numbers,
        "message": json_values,
        "data": json_values | st.fixed_dictionaries({"status": numbers, "progress": numbers}),
    }
)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def bodies(envelopes: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        json_values.map(_encode),
        envelopes.map(_encode),
        envelopes.map(lambda value: _encode(value)[: max(1, len(_encode(value)) // 2)]),  # truncated
        st.just(b"<html><body>502 Bad Gateway</body></html>"),
    )


CALLS: dict[type[RemoteTaskHook], list[ApiCall]] = {}


def _calls(hook: RemoteTaskHook) -> list[ApiCall]:
    if isinstance(hook, PostEKetabHook):
        return [hook._task_entries("t-1"), hook._list_call(1, 10)]
    if isinstance(hook, OpenReplayHook):
        return [hook._job_call("GET", 7, "pk"), hook._list_call("pk", 50, 1), hook._delete_user_call("u", "pk")]
    assert isinstance(hook, MobizonHook)
    return [hook._status_call(9)]


def check(hook: RemoteTaskHook, status: int, body: bytes) -> None:
    response = ApiResponse(status, {"Content-Type": "application/json"}, body)
    for call in _calls(hook):
        try:
            result = call.extract(hook._decode(call, response))
        except RemoteError:
            continue
        # A parsed result is the documented shape, and a status read never becomes success by accident.
        assert isinstance(result, dict | list)
        if isinstance(result, dict) and call.item_id is not None:
            try:
                snapshot = hook.snapshot(call.item_id, result)
            except RemoteError:
                continue
            assert isinstance(snapshot, TaskSnapshot) and isinstance(snapshot.state, RemoteState)


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(status=statuses, body=bodies(posteketab_bodies))
def test_posteketab_parser(status: int, body: bytes) -> None:
    check(PostEKetabHook(), status, body)


@SETTINGS
@given(status=statuses, body=bodies(openreplay_bodies))
def test_openreplay_parser(status: int, body: bytes) -> None:
    check(OpenReplayHook(), status, body)


@SETTINGS
@given(status=statuses, body=bodies(mobizon_bodies))
def test_mobizon_parser(status: int, body: bytes) -> None:
    check(MobizonHook(), status, body)


def test_unknown_statuses_are_never_success() -> None:
    for hook, raw in (
        (PostEKetabHook(), {"task_status": 7}),
        (OpenReplayHook(), {"status": "done"}),
        (MobizonHook(), {"status": "9", "progress": "100"}),
    ):
        try:
            hook.snapshot(1, raw)
        except RemoteError as error:
            assert "unknown status value" in str(error)
        else:
            raise AssertionError(f"{type(hook).__name__} accepted {raw}")

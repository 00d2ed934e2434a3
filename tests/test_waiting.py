"""The shared waiting engine: events, their validation, retry timing and redaction."""

from __future__ import annotations

import email.utils
import time

import pytest

from airflow_provider_tasks.exceptions import RemoteApiError, RemoteAuthError, RemoteTaskFailed
from airflow_provider_tasks.redaction import redact, register_secret
from airflow_provider_tasks.retry import RetryPolicy, parse_retry_after
from airflow_provider_tasks.states import RemoteState, TaskSnapshot
from airflow_provider_tasks.waits.events import WaitTimeout, error_event, event_from_snapshot, resolve_event


def snap(state, raw=None, message=None):
    return TaskSnapshot("Svc", 7, state, raw or {"status": state.value}, message=message)


def test_only_terminal_snapshots_make_events():
    assert event_from_snapshot(snap(RemoteState.PENDING)) is None
    assert event_from_snapshot(snap(RemoteState.RUNNING)) is None
    assert event_from_snapshot(snap(RemoteState.SUCCEEDED))["status"] == "success"
    for state in (RemoteState.FAILED, RemoteState.CANCELLED):
        assert event_from_snapshot(snap(state))["status"] == "failed"


def test_resolve_success_and_failure():
    assert resolve_event(event_from_snapshot(snap(RemoteState.SUCCEEDED, {"a": 1})), "Svc", 7) == {"a": 1}
    with pytest.raises(RemoteTaskFailed, match="disk full") as info:
        resolve_event(event_from_snapshot(snap(RemoteState.FAILED, {"x": 2}, "disk full")), "Svc", 7)
    assert info.value.details == {"x": 2}


def test_resolve_rebuilds_errors_and_refuses_strangers():
    event = error_event("Svc", 7, RemoteAuthError("Svc", "bad key", item_id=7, code=8))
    with pytest.raises(RemoteAuthError) as info:
        resolve_event(event, "Svc", 7)
    assert info.value.code == 8
    with pytest.raises(WaitTimeout):
        resolve_event({"status": "timeout", "id": 7, "message": "late"}, "Svc", 7)
    for bad in (None, {}, {"status": "done", "id": 7}, {"status": "success", "id": 8, "remote": {}}):
        with pytest.raises(RemoteApiError):
            resolve_event(bad, "Svc", 7)


def test_retry_policy_is_capped_jittered_and_honours_retry_after():
    policy = RetryPolicy(attempts=5, base_delay=1, max_delay=8)
    for failures in range(1, 10):
        delay = policy.delay(failures)
        cap = min(8, 2 ** (failures - 1))
        assert cap / 2 <= delay <= cap
    assert policy.delay(1, retry_after=5) == 5
    assert policy.delay(1, retry_after=10_000) == 300


def test_parse_retry_after_both_forms():
    assert parse_retry_after("3") == 3
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after(future) <= 31
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_redaction_of_registered_secrets_and_query_keys():
    register_secret("s3cr3t-value-42")
    assert "s3cr3t-value-42" not in redact("token s3cr3t-value-42 in text")
    assert redact("POST /service/x?output=json&apiKey=abcdef&api=v1") == "POST /service/x?output=json&apiKey=***&api=v1"

"""Bad input is refused with an error naming the parameter and its value, before any request."""

from __future__ import annotations

import json
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.operators.openreplay import OpenReplayCancelJobOperator, OpenReplayDeleteUserDataOperator
from airflow_provider_tasks.operators.posteketab import PostEKetabTaskResultOperator
from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor
from airflow_provider_tasks.sensors.openreplay import OpenReplayJobSensor
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor

ID_CASES = [
    # (factory, parameter, bad values)
    (lambda v: PostEKetabHook().get_task(v), "posteketab_task_id", [None, "", "   ", 5.5]),
    (lambda v: OpenReplayHook().get_job(v), "job_id", [None, "", " ", "12a", -3, 0, 1.5, True]),
    (lambda v: OpenReplayHook().cancel_job(v), "job_id", [None, "abc", -1]),
    (lambda v: OpenReplayHook().delete_user_data(v), "user_id", [None, "", "  ", "u" * 257]),
    (lambda v: MobizonHook().get_task_status(v), "mobizon_task_id", [None, "", "x", -7, 0, 2.5, False]),
]


@pytest.mark.parametrize(
    ("call", "parameter", "value"),
    [(call, parameter, value) for call, parameter, values in ID_CASES for value in values],
)
def test_hook_ids(sim: Any, call: Any, parameter: str, value: Any) -> None:
    with pytest.raises(ValueError) as info:
        call(value)
    text = str(info.value)
    assert parameter in text
    assert repr(value)[:20] in text or str(len(value)) in text
    assert sim.count() == 0


TEMPLATED = [
    (PostEKetabTaskSensor, "posteketab_task_id"),
    (OpenReplayJobSensor, "job_id"),
    (MobizonTaskSensor, "mobizon_task_id"),
    (PostEKetabTaskResultOperator, "posteketab_task_id"),
    (OpenReplayCancelJobOperator, "job_id"),
    (OpenReplayDeleteUserDataOperator, "user_id"),
]


@pytest.mark.parametrize(("operator_class", "parameter"), TEMPLATED)
@pytest.mark.parametrize("rendered", ["", "   ", "None"])
def test_ids_that_render_empty_from_a_template(
    sim: Any, context: Any, operator_class: Any, parameter: str, rendered: str
) -> None:
    with DAG("bad_input", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        operator = operator_class(task_id="t", **{parameter: "{{ params.value }}"})
    operator.render_template_fields({"params": {"value": rendered}})
    if rendered == "None" and parameter in ("posteketab_task_id", "user_id"):
        pytest.skip("the string 'None' is a legal text id")
    with pytest.raises(ValueError, match=parameter):
        operator.execute(context)
    assert sim.count() == 0


CONNECTIONS = [
    ("posteketab", {"password": ""}, "password"),
    ("posteketab", {"host": "not a url at all"}, "host"),
    ("posteketab", {"host": "ftp://files.example.com"}, "host"),
    ("posteketab", {"extra": {"timeout": "fast"}}, "timeout"),
    ("posteketab", {"extra": {"timeout": 0}}, "timeout"),
    ("posteketab", {"extra": {"timezone": "Asia/Atlantis"}}, "timezone"),
    ("openreplay", {"password": None}, "password"),
    ("openreplay", {"extra": {"timeout": "1m"}}, "timeout"),
    ("mobizon", {"password": "   "}, "password"),
    ("mobizon", {"host": "http://"}, "host"),
]
HOOKS = {"posteketab": PostEKetabHook, "openreplay": OpenReplayHook, "mobizon": MobizonHook}


@pytest.mark.parametrize(("conn_type", "change", "parameter"), CONNECTIONS)
def test_broken_connections(sim: Any, monkeypatch: Any, conn_type: str, change: dict[str, Any], parameter: str) -> None:
    conn = json.loads(sim.connection_uris()[f"{conn_type}_default"])
    conn.update({key: value for key, value in change.items() if key != "extra"})
    conn["extra"] = {**conn.get("extra", {}), **change.get("extra", {})}
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN", json.dumps(conn))
    hook = HOOKS[conn_type]("broken")
    with pytest.raises(ValueError) as info:
        _ = hook.settings
    text = str(info.value)
    assert parameter in text and "'broken'" in text
    for key in (sim.posteketab_token, sim.openreplay_api_key, sim.mobizon_api_key):
        assert key not in text
    assert sim.count() == 0

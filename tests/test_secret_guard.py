"""The suite-wide secret guard (tests/_secret_guard.py) sees what it must search."""

from __future__ import annotations

import logging

from _secret_guard import SECRETS, find_leaks

from airflow_provider_tasks.exceptions import RemoteAuthError


def test_find_leaks_spots_every_secret_in_context():
    for secret in SECRETS:
        leaks = find_leaks([f"POST /service/x?output=json&apiKey={secret}&api=v1"])
        assert len(leaks) == 1 and secret not in leaks[0].split("…")[0]
    assert find_leaks(["apiKey=***", "nothing here"]) == []


def test_guard_records_error_messages_and_debug_logging(secret_guard):
    RemoteAuthError("Mobizon", "authorization failed", item_id=1, code=8)
    assert any("authorization failed" in text for text in secret_guard)
    assert logging.getLogger().isEnabledFor(logging.DEBUG)


def test_guard_records_rendered_fields_and_clean_hook_reprs(sim, context, secret_guard):
    import pendulum
    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_tasks.hooks.mobizon import MobizonHook
    from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor

    hook = MobizonHook()
    assert hook.settings.secret == sim.mobizon_api_key
    with DAG("guard", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        sensor = MobizonTaskSensor(task_id="s", mobizon_task_id="{{ params.task }}")
    sensor.render_template_fields({"params": {"task": "4242"}})
    assert any("4242" in text for text in secret_guard)
    # What the guard adds at teardown must itself be clean: the hook and its settings hide the key.
    assert sim.mobizon_api_key not in f"{hook!r} {hook.settings!r}"

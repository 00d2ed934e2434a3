"""Shared fixtures: an isolated Airflow home, the simulator with connections to it, a task context."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest

# Airflow reads its configuration at first import: point it at a throwaway home before that.
_HOME = tempfile.mkdtemp(prefix="airflow-provider-tasks-tests-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

pytest_plugins = ["airflow_provider_tasks.simulator.pytest_plugin", "_secret_guard"]

from airflow_provider_tasks.testing import FakeTaskInstance  # noqa: E402 (after AIRFLOW_HOME)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the real retry logic but shrink its backoff so fault tests take milliseconds, and drop the
    reschedule-mode interval floor, which guards against a race of Airflow's scheduler (none here:
    the unit tests drive reschedules themselves; tests/e2e runs reschedule mode at the real floor)."""
    from airflow_provider_tasks.hooks import base
    from airflow_provider_tasks.sensors import base as sensors_base

    monkeypatch.setattr(base, "DEFAULT_RETRY_DELAY", 0.01)
    monkeypatch.setattr(sensors_base, "RESCHEDULE_MIN_INTERVAL", 0.0)


@pytest.fixture
def sim(provider_tasks_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A running simulator with the three default connections pointing at it (AIRFLOW_CONN_*)."""
    for name, value in provider_tasks_simulator.env().items():
        monkeypatch.setenv(name, value)
    return provider_tasks_simulator


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Any:
    """Everything logged during the test, as text: stdlib records and Airflow's structlog output."""
    import logging

    caplog.set_level(logging.DEBUG)

    def text() -> str:
        out, err = capsys.readouterr()
        captured = "\n".join(record.getMessage() for record in caplog.records)
        text.seen += "\n".join((captured, out, err))  # type: ignore[attr-defined]
        return text.seen  # type: ignore[attr-defined, no-any-return]

    text.seen = ""  # type: ignore[attr-defined]
    return text


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import importlib

    from airflow.providers.common.compat.sdk import BaseSensorOperator

    ti = FakeTaskInstance()
    sensor_module = importlib.import_module(BaseSensorOperator.__module__)
    if hasattr(sensor_module, "_orig_start_date"):  # Airflow 2.11: the DB lookup the fake stands in for
        monkeypatch.setattr(sensor_module, "_orig_start_date", lambda **_: ti.first_reschedule_date)
    return {"ti": ti}

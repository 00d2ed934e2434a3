"""Fault tests share the root fixtures; their connections use a short request timeout so that the
simulator's slow answers become read timeouts quickly."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture
def sim(provider_tasks_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for conn_id, uri in provider_tasks_simulator.connection_uris().items():
        conn = json.loads(uri)
        conn.setdefault("extra", {})["timeout"] = 1
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return provider_tasks_simulator

"""What installing the provider brings along: its metadata, and no pytest plugin unless asked for.

scripts/wheel_smoke.py (make test-wheel) runs these against the built wheel too, and checks there that
no runtime module imports the test double or the pytest plugin.
"""

from __future__ import annotations

import importlib.metadata

import airflow_provider_tasks
from airflow_provider_tasks.simulator import pytest_plugin

DIST = importlib.metadata.distribution("airflow-provider-tasks")


def test_no_pytest_plugin_is_registered_on_install():
    groups = {entry.group for entry in DIST.entry_points}
    assert groups == {"apache_airflow_provider"}


def test_metadata():
    meta = DIST.metadata
    assert meta["Version"] == airflow_provider_tasks.__version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert {url.split(",")[0] for url in meta.get_all("Project-URL") or []} >= {
        "Source",
        "Issues",
        "Documentation",
        "Changelog",
    }


def test_plugin_fixtures_are_named_for_the_project():
    assert sorted(pytest_plugin.__all__) == [
        "provider_tasks_simulator",
        "provider_tasks_simulator_kwargs",
        "provider_tasks_simulator_session",
    ]
    assert not {"simulator", "simulator_kwargs", "simulator_session"} & set(vars(pytest_plugin))

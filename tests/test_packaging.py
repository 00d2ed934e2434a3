"""What installing the provider brings along: its metadata, and no test code on the runtime path.

scripts/wheel_smoke.py (make test-wheel) checks the same of the built wheel in a clean environment.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

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


def test_runtime_modules_import_no_test_code():
    """Every module of the package except the two meant for tests loads neither pytest nor the doubles."""
    code = (
        "import importlib, pkgutil, sys, airflow_provider_tasks as pkg\n"
        "test_only = {'airflow_provider_tasks.testing', 'airflow_provider_tasks.simulator.pytest_plugin'}\n"
        "names = [m.name for m in pkgutil.walk_packages(pkg.__path__, 'airflow_provider_tasks.')]\n"
        "assert test_only <= set(names), names\n"
        "for name in sorted(set(names) - test_only):\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'pytest' or m.startswith('_pytest') or m in test_only))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"

"""Provider registration: the metadata dict, the schema Airflow ships, and the real Airflow CLI."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_tasks import __version__
from airflow_provider_tasks.get_provider_info import get_provider_info
from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook

HOOKS = {"posteketab": PostEKetabHook, "openreplay": OpenReplayHook, "mobizon": MobizonHook}


def test_matches_the_schema_airflow_ships():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_package_name_and_connection_types():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-tasks"
    assert info["versions"] == [__version__]
    types = {entry["connection-type"]: entry for entry in info["connection-types"]}
    assert set(types) == set(HOOKS)
    for conn_type, entry in types.items():
        hook = HOOKS[conn_type]
        assert entry["hook-class-name"] == f"{hook.__module__}.{hook.__name__}"
        assert entry["hook-name"] == hook.hook_name
        behaviour = entry["ui-field-behaviour"]
        assert hook.get_ui_field_behaviour() == {  # the hook API's spelling, read by the Airflow 2.11 UI
            "hidden_fields": behaviour["hidden-fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        }
        assert "timeout" in entry["conn-fields"]
        assert hook.conn_type == conn_type


def test_every_listed_module_and_class_imports():
    info = get_provider_info()
    for section in ("hooks", "sensors", "operators", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for path in info["extra-links"]:
        module, _, name = path.rpartition(".")
        assert getattr(importlib.import_module(module), name)().name


def test_extras_of_each_connection_type():
    fields = {entry["connection-type"]: entry["conn-fields"] for entry in get_provider_info()["connection-types"]}
    assert set(fields["posteketab"]) == {"timezone", "timeout"}
    assert fields["posteketab"]["timezone"]["schema"]["default"] == "Asia/Tehran"
    assert set(fields["openreplay"]) == {"project_key", "timeout"}
    assert set(fields["mobizon"]) == {"timeout"}


def test_connection_form_widgets_for_airflow_2():
    pytest.importorskip("flask_appbuilder")
    pytest.importorskip("wtforms")
    for hook in HOOKS.values():
        widgets = hook.get_connection_form_widgets()
        assert "timeout" in widgets


def test_airflow_builds_each_connection_form():
    """What the UI shows: Airflow 3.2+ reads the provider info, Airflow 2.11 asks each hook class itself."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets, behaviours = manager.connection_form_widgets, manager.field_behaviours
    for entry in get_provider_info()["connection-types"]:
        conn_type = entry["connection-type"]
        assert conn_type in behaviours, sorted(behaviours)
        assert behaviours[conn_type]["hidden_fields"] == entry["ui-field-behaviour"]["hidden-fields"]
        assert behaviours[conn_type]["relabeling"] == entry["ui-field-behaviour"]["relabeling"]
        for field in entry["conn-fields"]:
            assert f"extra__{conn_type}__{field}" in widgets, sorted(widgets)


def _airflow_cli(*args: str, tmp_path: Path) -> str:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_airflow_cli_lists_the_provider_and_its_hooks(tmp_path):
    providers = json.loads(_airflow_cli("providers", "list", "--output", "json", tmp_path=tmp_path))
    ours = [p for p in providers if p["package_name"] == "airflow-provider-tasks"]
    assert ours and ours[0]["version"] == __version__
    hooks = json.loads(_airflow_cli("providers", "hooks", "--output", "json", tmp_path=tmp_path))
    by_type = {entry["connection_type"]: entry for entry in hooks}
    for conn_type, hook in HOOKS.items():
        assert conn_type in by_type, sorted(by_type)
        assert by_type[conn_type]["class"] == f"{hook.__module__}.{hook.__name__}"


def test_public_modules_import_no_http_client_library():
    """DAG files import us at every parse: the HTTP libraries load only when a request is made
    (their import cost is the bulk of ours; bench/ measures the time)."""
    modules = ", ".join(
        f"airflow_provider_tasks.{layer}.{service}"
        for layer in ("hooks", "sensors", "operators", "triggers")
        for service in ("posteketab", "openreplay", "mobizon")
        if not (layer == "operators" and service == "mobizon")
    )
    code = (
        "import sys, airflow.providers.common.compat.sdk, airflow.triggers.base; before = set(sys.modules); "
        f"import {modules}; print(sorted({{'requests', 'aiohttp'}} & (set(sys.modules) - before)))"
    )  # what Airflow itself loads (Airflow 2.11 imports requests) is not ours to save
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"

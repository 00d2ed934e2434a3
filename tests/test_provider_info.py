"""Provider registration: the metadata dict, the schema Airflow ships, and the real Airflow CLI."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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


#: The standard connection fields a form can hide or relabel.
_STANDARD_FIELDS = {"description", "schema", "host", "port", "login", "password"}
_NO_FORM_ON_3_0 = (
    "Airflow 3.0's UI fills connection forms from hook widgets only when wtforms is importable "
    "(the FAB provider installs it); without it, it shows no provider's custom fields"
)


def _forms_the_ui_shows() -> dict[str, dict[str, Any]]:
    """Per connection type, what Airflow's add-connection form shows: hidden and relabelled fields, extras."""
    forms: dict[str, dict[str, Any]] = {}
    try:
        from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    except ImportError:  # Airflow 2.11: the Flask UI renders ProvidersManager's widgets and behaviours
        from airflow.providers_manager import ProvidersManager

        manager = ProvidersManager()
        for conn_type, behaviour in manager.field_behaviours.items():
            hidden = set(behaviour.get("hidden_fields", [])) & _STANDARD_FIELDS
            forms[conn_type] = {"hidden": hidden, "labels": dict(behaviour.get("relabeling", {})), "extras": set()}
        for key in manager.connection_form_widgets:
            _, conn_type, name = key.split("__", 2)
            forms.setdefault(conn_type, {"hidden": set(), "labels": {}, "extras": set()})["extras"].add(name)
        return forms
    # Airflow 3: the UI's own service. 3.2+ reads conn-fields; 3.0 and 3.1 read the hooks' widgets.
    for meta in HookMetaService.hook_meta_data():
        hidden, labels = set(), {}
        for name in _STANDARD_FIELDS:
            field = getattr(meta.standard_fields, "url_schema" if name == "schema" else name, None)
            if field is not None and field.hidden:
                hidden.add(name)
            if field is not None and field.title:
                labels[name] = field.title
        forms[meta.connection_type] = {"hidden": hidden, "labels": labels, "extras": set(meta.extra_fields or {})}
    return forms


def test_airflow_builds_each_connection_form():
    """What the add-connection form shows, read the way this Airflow's UI reads it."""
    forms = _forms_the_ui_shows()
    no_form = airflow.__version__.startswith("3.0.") and importlib.util.find_spec("wtforms") is None
    for entry in get_provider_info()["connection-types"]:
        conn_type = entry["connection-type"]
        assert conn_type in forms, sorted(forms)  # the type is offered in every version
        if no_form:
            assert forms[conn_type] == {"hidden": set(), "labels": {}, "extras": set()}
            continue
        behaviour = entry["ui-field-behaviour"]
        assert forms[conn_type]["hidden"] == set(behaviour["hidden-fields"]) & _STANDARD_FIELDS
        assert forms[conn_type]["labels"] == behaviour["relabeling"]
        assert forms[conn_type]["extras"] == set(entry["conn-fields"])
    if no_form:
        pytest.skip(_NO_FORM_ON_3_0)


def _airflow_cli_json(*args: str, tmp_path: Path) -> Any:
    """The JSON that ``airflow ... --output json`` prints. Airflow 3.0 may log to stdout before it."""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json_document(result.stdout)


def json_document(text: str) -> Any:
    """The first line of ``text`` that starts a JSON array or object, decoded (log lines around it ignored)."""
    decoder = json.JSONDecoder()
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith(("[", "{")):
            with contextlib.suppress(ValueError):
                value, _ = decoder.raw_decode(text, offset + len(line) - len(line.lstrip()))
                if isinstance(value, list | dict):
                    return value
        offset += len(line)
    raise AssertionError(f"no JSON document in the output: {text[-2000:]!r}")


def test_json_document_skips_log_lines():
    logged = '[2026-12-02T01:16:02.859+0000] {plugins.py:37} INFO - setup plugin x\n[{"a": 1}]\nbye\n'
    assert json_document(logged) == [{"a": 1}]
    assert json_document('{"b": [1, 2]}') == {"b": [1, 2]}
    with pytest.raises(AssertionError):
        json_document("[INFO] nothing here\n")


@pytest.mark.timeout(600)  # two Airflow CLI processes: minutes each on a loaded 2-core machine
def test_airflow_cli_lists_the_provider_and_its_hooks(tmp_path):
    providers = _airflow_cli_json("providers", "list", tmp_path=tmp_path)
    ours = [p for p in providers if p["package_name"] == "airflow-provider-tasks"]
    assert ours and ours[0]["version"] == __version__
    hooks = _airflow_cli_json("providers", "hooks", tmp_path=tmp_path)
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

"""The connection forms of the three services, as plain data.

Airflow 3.2+ builds the add-connection form from ``get_provider_info()`` alone (it never imports the
hook); Airflow 2.11 asks the hook classes. Both read these dicts, so the two UIs cannot drift apart.
This module imports nothing from Airflow: ``get_provider_info()`` runs at every process start.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONNECTION_TYPES", "DEFAULT_TIMEOUT", "form_widgets", "ui_field_behaviour"]

DEFAULT_TIMEOUT = 30.0

_TIMEOUT_FIELD: dict[str, Any] = {
    "label": "Request timeout (seconds)",
    "schema": {"type": ["number", "null"], "default": DEFAULT_TIMEOUT, "exclusiveMinimum": 0},
    "description": "Seconds allowed for each HTTP request (default 30).",
}

CONNECTION_TYPES: dict[str, dict[str, Any]] = {
    "posteketab": {
        "hook-class-name": "airflow_provider_tasks.hooks.posteketab.PostEKetabHook",
        "hook-name": "Post-e-Ketab",
        "connection-type": "posteketab",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "login", "extra"],
            "relabeling": {"host": "API base URL", "password": "JWT token"},
            "placeholders": {
                "host": "https://api.posteketab.com/api/v2/public",
                "password": "the token sent as 'Authorization: JWT <token>'",
                "timezone": "Asia/Tehran",
                "timeout": "30",
            },
        },
        "conn-fields": {
            "timezone": {
                "label": "Timezone of the API's timestamps",
                "schema": {"type": ["string", "null"], "default": "Asia/Tehran"},
                "description": "IANA zone used to read task timestamps, which carry no zone.",
            },
            "timeout": _TIMEOUT_FIELD,
        },
    },
    "openreplay": {
        "hook-class-name": "airflow_provider_tasks.hooks.openreplay.OpenReplayHook",
        "hook-name": "OpenReplay",
        "connection-type": "openreplay",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "login", "extra"],
            "relabeling": {"host": "API base URL", "password": "Organization API key"},
            "placeholders": {
                "host": "https://api.openreplay.com/v2 (self-hosted: https://DOMAIN/api/v2)",
                "password": "organization API key (sent as 'Authorization: Bearer <key>')",
                "project_key": "3sWXSsqHgSKnE87YkNJK",
                "timeout": "30",
            },
        },
        "conn-fields": {
            "project_key": {
                "label": "Default project key",
                "schema": {"type": ["string", "null"]},
                # Airflow 3 shows no placeholder for extra fields: the example lives in the description.
                "description": "Used when a task does not name a project_key (e.g. 3sWXSsqHgSKnE87YkNJK).",
            },
            "timeout": _TIMEOUT_FIELD,
        },
    },
    "mobizon": {
        "hook-class-name": "airflow_provider_tasks.hooks.mobizon.MobizonHook",
        "hook-name": "Mobizon",
        "connection-type": "mobizon",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "login", "extra"],
            "relabeling": {"host": "API domain", "password": "API key"},
            "placeholders": {
                "host": "https://api.mobizon.kz (or .ua, .com.br, .gmbh, ...)",
                "password": "API key (sent as the apiKey query parameter, never logged)",
                "timeout": "30",
            },
        },
        "conn-fields": {"timeout": _TIMEOUT_FIELD},
    },
}


def ui_field_behaviour(conn_type: str) -> dict[str, Any]:
    """The ``ui-field-behaviour`` of ``conn_type`` in the hook API's spelling (``hidden_fields``), as the
    Airflow 2.11 UI reads it from ``get_ui_field_behaviour()`` (Airflow 3.2+ converts it itself)."""
    behaviour = CONNECTION_TYPES[conn_type]["ui-field-behaviour"]
    return {
        "hidden_fields": list(behaviour.get("hidden-fields", [])),
        "relabeling": dict(behaviour.get("relabeling", {})),
        "placeholders": dict(behaviour.get("placeholders", {})),
    }


def form_widgets(conn_type: str) -> dict[str, Any]:
    """The extra fields of ``conn_type``'s form as WTForms fields (what ``get_connection_form_widgets()``
    returns to the Airflow 2.11 UI). Imports Flask's form libraries, so call it only from there."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField

    return {
        name: StringField(lazy_gettext(spec["label"]), widget=BS3TextFieldWidget(), description=spec.get("description"))
        for name, spec in CONNECTION_TYPES[conn_type]["conn-fields"].items()
    }

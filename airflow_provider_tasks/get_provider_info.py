"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

import copy
from typing import Any

from airflow_provider_tasks import __version__
from airflow_provider_tasks.connection_forms import CONNECTION_TYPES

_SERVICES = {
    "posteketab": ("Post-e-Ketab", "https://api.posteketab.com/api/v2/public/doc/?fn=task_detail"),
    "openreplay": ("OpenReplay", "https://docs.openreplay.com/en/api/jobs/"),
    "mobizon": ("Mobizon", "https://mobizon.kz/help/api-docs/taskqueue"),
}
_PKG = "airflow_provider_tasks"


def get_provider_info() -> dict[str, Any]:
    """Return the provider description (validated against Airflow's provider_info schema in tests)."""
    names = [name for name, _ in _SERVICES.values()]
    return {
        "package-name": "airflow-provider-tasks",
        "name": "Background tasks (Post-e-Ketab, OpenReplay, Mobizon)",
        "description": "Wait for, cancel and collect the background tasks of Post-e-Ketab, OpenReplay "
        "and Mobizon from Airflow DAGs.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": name, "external-doc-url": url, "tags": ["service"]} for name, url in _SERVICES.values()
        ],
        "hooks": [
            {"integration-name": name, "python-modules": [f"{_PKG}.hooks.{svc}"]}
            for svc, (name, _) in _SERVICES.items()
        ],
        "sensors": [
            {"integration-name": name, "python-modules": [f"{_PKG}.sensors.{svc}"]}
            for svc, (name, _) in _SERVICES.items()
        ],
        "operators": [
            {"integration-name": names[0], "python-modules": [f"{_PKG}.operators.posteketab"]},
            {"integration-name": names[1], "python-modules": [f"{_PKG}.operators.openreplay"]},
        ],
        "triggers": [
            {"integration-name": name, "python-modules": [f"{_PKG}.triggers.{svc}"]}
            for svc, (name, _) in _SERVICES.items()
        ],
        "extra-links": [
            f"{_PKG}.links.PostEKetabTaskLink",
            f"{_PKG}.links.OpenReplayJobLink",
            f"{_PKG}.links.MobizonTaskLink",
        ],
        "connection-types": [copy.deepcopy(entry) for entry in CONNECTION_TYPES.values()],
    }

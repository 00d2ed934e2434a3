"""Run whenever an OpenReplay deletion job or a Post-e-Ketab Excel import finishes: no sensor waits in any run.

Each asset has a watcher: an event trigger that reads the service's list in the triggerer and turns
every item reaching a terminal state into one asset event, announced once (also across triggerer
restarts). The payload is the item: ``service``, ``id``, ``type``, ``status``, ``state``, timestamps.
Several items finishing close together may be handed to one run: ``report`` reads them all.
Event-driven scheduling needs Airflow 3; on Airflow 2 this file defines no DAG.
"""

from __future__ import annotations

from typing import Any

from _settings import START, poll_seconds
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_tasks.triggers.openreplay import OpenReplayJobFinishedTrigger
from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskFinishedTrigger

try:
    from airflow.sdk import Asset, AssetWatcher
except ImportError:  # Airflow 2.11: no AssetWatcher
    EVENT_DRIVEN = False
else:
    EVENT_DRIVEN = True

if EVENT_DRIVEN:
    # [START openreplay_job_finished_trigger]
    DELETIONS = Asset(
        "openreplay_finished_deletion_jobs",
        watchers=[
            AssetWatcher(
                name="openreplay_deletion_jobs",
                trigger=OpenReplayJobFinishedTrigger(action="delete_user_data", poll_interval=poll_seconds(300)),
            )
        ],
    )
    # [END openreplay_job_finished_trigger]
    # [START posteketab_task_finished_trigger]
    IMPORTS = Asset(
        "posteketab_finished_imports",
        watchers=[
            AssetWatcher(
                name="posteketab_excel_imports",
                trigger=PostEKetabTaskFinishedTrigger(posteketab_task_type=0, poll_interval=poll_seconds(30)),
            )
        ],
    )
    # [END posteketab_task_finished_trigger]

    with DAG(
        dag_id="example_asset_events",
        schedule=(DELETIONS | IMPORTS),
        start_date=START,
        catchup=False,
        tags=["example", "openreplay", "posteketab", "asset-events"],
        doc_md=__doc__,
    ):
        # [START asset_events_report]
        @task
        def report(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
            """One line per finished item this run was started for (none when started by hand)."""
            finished = [
                event.extra["payload"]
                for events in (triggering_asset_events or {}).values()
                for event in events
                if isinstance(event.extra.get("payload"), dict)
            ]
            for item in finished:
                print(f"{item['service']} {item['id']} ({item['type']}) ended {item['status']}")
            return [{key: item[key] for key in ("service", "id", "type", "status")} for item in finished]

        # [END asset_events_report]

        report()

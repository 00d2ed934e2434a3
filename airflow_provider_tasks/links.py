"""Extra links from a task to the service's web UI.

The URL is computed while the task runs (it depends on the connection) and pushed to XCom under the
link's ``xcom_key`` before any deferral, which is where the Airflow 3 API server reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperator, Context, TaskInstanceKey

__all__ = ["MobizonTaskLink", "OpenReplayJobLink", "PostEKetabTaskLink", "RemoteTaskLink"]


class RemoteTaskLink(BaseOperatorLink):
    """A link whose URL was pushed to XCom by the running task."""

    name: ClassVar[str] = "Service"  # type: ignore[misc]

    @property
    def xcom_key(self) -> str:
        """``_link_<class name>``: Airflow 3's own default, spelled out because Airflow 2.11's base lacks it."""
        return f"_link_{type(self).__name__}"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        value = stored_link(self.xcom_key, ti_key)
        return value if isinstance(value, str) else ""

    @classmethod
    def persist(cls, context: Context, url: str | None) -> None:
        """Push ``url`` for this link (a no-op when the service has no web UI)."""
        if url:
            context["ti"].xcom_push(key=cls().xcom_key, value=url)


class PostEKetabTaskLink(RemoteTaskLink):
    """Post-e-Ketab's web panel."""

    name = "Post-e-Ketab"


class OpenReplayJobLink(RemoteTaskLink):
    """The OpenReplay dashboard of the instance the connection points at."""

    name = "OpenReplay"


class MobizonTaskLink(RemoteTaskLink):
    """Mobizon's web cabinet of the account's region."""

    name = "Mobizon"


def stored_link(key: str, ti_key: TaskInstanceKey) -> Any:
    """The value stored under ``key`` for ``ti_key``, None when there is none, read without noise.

    Airflow 3 calls ``get_link`` in the task process once the task ends, and ``XCom.get_value`` asks
    the API server there: for a task that failed before it stored its link the server answers 404
    and the task SDK logs an error-level "XCom not found" in the task's log. ``XCom.get_all`` (every
    map index of the task; an empty answer, not a 404, when there is none) asks without that line.
    Airflow 2.11 reads the database, silently, with ``get_value``.
    """
    get_all = getattr(XCom, "get_all", None)
    if get_all is None:  # Airflow 2.11
        return XCom.get_value(key=key, ti_key=ti_key)
    values = get_all(key=key, dag_id=ti_key.dag_id, task_id=ti_key.task_id, run_id=ti_key.run_id)
    if not values:
        return None
    if getattr(ti_key, "map_index", -1) < 0:
        return values[0]
    # A mapped task: the values of its map indexes, without saying which is whose. Some index stored
    # its link, so this one most likely did too: ask for it by its index.
    return XCom.get_value(key=key, ti_key=ti_key)

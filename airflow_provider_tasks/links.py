"""Extra links from a task to the service's web UI.

The URL is computed while the task runs (it depends on the connection) and pushed to XCom under the
link's ``xcom_key`` before any deferral, which is where the Airflow 3 API server reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

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
        value = XCom.get_value(key=self.xcom_key, ti_key=ti_key)
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

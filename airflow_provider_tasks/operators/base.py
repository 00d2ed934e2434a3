"""What the operators that wait share: block or defer on the same engine as the sensors."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowTaskTimeout, BaseOperator

from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.links import RemoteTaskLink
from airflow_provider_tasks.triggers.base import RemoteTaskTrigger
from airflow_provider_tasks.validation import default_deferrable
from airflow_provider_tasks.waiting import WaitTimeout, complete_event, poll_until_done, resolve_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_tasks.states import TaskSnapshot

__all__ = ["RemoteTaskOperator", "WaitingOperator"]


class RemoteTaskOperator(BaseOperator):
    """Base of the operators: the connection id, a lazily built hook and the extra link."""

    hook_class: ClassVar[type[RemoteTaskHook]]
    link_class: ClassVar[type[RemoteTaskLink]]

    def __init__(self, *, conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        setattr(self, self.hook_class.conn_name_attr, conn_id)
        self.conn_id = conn_id
        self._hook: RemoteTaskHook | None = None

    @property
    def hook(self) -> RemoteTaskHook:
        """The hook, created on first use (never at DAG parse time)."""
        if self._hook is None:
            self._hook = self.hook_class(self.conn_id)  # type: ignore[call-arg]
        return self._hook

    def push_link(self, context: Context, item_id: str | int, **kwargs: Any) -> None:
        self.link_class.persist(context, self.hook.web_url(item_id, **kwargs))


class WaitingOperator(RemoteTaskOperator):
    """An operator that can wait for a remote task, blocking or deferred, on the sensors' engine.

    Subclasses call :meth:`wait` with the first snapshot they read; it returns the final remote
    object (blocking mode) or defers, in which case :meth:`execute_complete` later calls
    :meth:`finish` with it. Either way :meth:`finish` sees the same object.
    """

    trigger_class: ClassVar[type[RemoteTaskTrigger]]

    def __init__(
        self,
        *,
        deferrable: bool | None = None,
        poll_interval: float = 30.0,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) or poll_interval <= 0:
            raise ValueError(f"poll_interval must be a positive number of seconds, got {poll_interval!r}")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
            raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = timeout

    def wait(
        self,
        context: Context,
        first: TaskSnapshot,
        *,
        trigger_kwargs: dict[str, Any] | None = None,
        owned: bool = False,
    ) -> dict[str, Any]:
        """Wait until ``first``'s task is terminal; return the final remote object (or defer).

        ``trigger_kwargs`` are the trigger's own keyword arguments beyond id, connection, interval and
        deadline. ``owned`` marks a task this operator created: :meth:`on_wait_timeout` may cancel it.
        """
        item_id = first.item_id
        fetch_kwargs = self.fetch_kwargs()
        if self.deferrable and not first.state.is_terminal:
            self.log.info("%s %s is %s; deferring", first.service, item_id, first.state.value)
            self.defer(
                trigger=self.trigger_class.for_wait(
                    item_id,
                    self.conn_id,
                    poll_interval=self.poll_interval,
                    end_time=None if self.timeout is None else time.time() + self.timeout,
                    **(trigger_kwargs or {}),
                ),
                method_name="execute_complete",
                kwargs={"item_id": item_id, "owned": owned},
                # The trigger ends itself at end_time with an event we can act on (cancel what we own);
                # Airflow's own deferral timeout is only the backstop.
                timeout=None if self.timeout is None else timedelta(seconds=self.timeout + 60),
            )
        event = poll_until_done(
            self.hook,
            item_id,
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            log=self.log,
            fetch_kwargs=fetch_kwargs,
            first=first,
        )
        return self.resolve(context, event, item_id, owned=owned)

    def resolve(self, context: Context, event: Any, item_id: str | int, *, owned: bool = False) -> dict[str, Any]:
        """Validate an event; a timeout calls :meth:`on_wait_timeout` before failing the task."""
        try:
            event = complete_event(self.hook, event, item_id, self.fetch_kwargs())
            return resolve_event(event, self.hook_class.service_name, item_id)
        except WaitTimeout as timeout:
            if owned:
                self.on_wait_timeout(context, item_id)
            raise AirflowTaskTimeout(str(timeout)) from None

    def fetch_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments of ``hook.get_snapshot`` for the waited task (e.g. OpenReplay's project_key)."""
        return {}

    def on_wait_timeout(self, context: Context, item_id: str | int) -> None:
        """Called when the wait for a task this operator created times out (before the task fails)."""

    def finish(self, context: Context, remote: dict[str, Any]) -> Any:
        """Turn the final remote object into the task's return value."""
        return remote

    def execute_complete(
        self, context: Context, event: Any = None, item_id: str | int | None = None, owned: bool | None = None
    ) -> Any:
        """Resume after deferral with the trigger's event (``item_id``/``owned`` come from :meth:`wait`)."""
        if item_id is None:  # `airflow dags test` resumes with the event alone
            item_id = self.waited_id(event)
        if owned is None:
            owned = isinstance(event, Mapping) and event.get("owned") is True
        return self.finish(context, self.resolve(context, event, item_id, owned=owned))

    def waited_id(self, event: Any) -> str | int:
        """The id this task waited for, when the resume did not say it."""
        raise NotImplementedError

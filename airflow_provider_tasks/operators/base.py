"""What the operators that wait share: block or defer on the same rules as the sensors."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowTaskTimeout, BaseOperator

from airflow_provider_tasks._compat import deferral_timeout_error
from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.links import RemoteTaskLink
from airflow_provider_tasks.triggers.base import RemoteTaskTrigger
from airflow_provider_tasks.triggers.starting import StartFromTrigger, crossed_event
from airflow_provider_tasks.validation import default_deferrable
from airflow_provider_tasks.waits.blocking import poll_until_done
from airflow_provider_tasks.waits.events import WaitTimeout, timeout_event
from airflow_provider_tasks.waits.policy import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    DEFAULT_TIMEOUT,
    Wait,
    deadline_for,
    end_wait,
    validate_budget,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_tasks.states import TaskSnapshot

__all__ = ["RemoteTaskOperator", "WaitingOperator"]

#: XCom key of what a deferred wait is about ({"item_id", "owned"}): Airflow replaces the deferral's
#: kwargs when it ends a deferral at its own timeout, and the job we own must still be cancelled then.
DEFERRED_WAIT_KEY = "_provider_tasks_deferred_wait"


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


class WaitingOperator(RemoteTaskOperator, StartFromTrigger):
    """An operator that can wait for a remote task, blocking or deferred, on the sensors' rules.

    Subclasses call :meth:`wait` with the first snapshot they read; it returns the final remote
    object (blocking mode) or defers, in which case :meth:`execute_complete` later calls
    :meth:`finish` with it. Either way :meth:`finish` sees the same object. The wait ends at the
    earlier of ``timeout`` and the task's ``execution_timeout``; a job the operator created is then
    cancelled (:meth:`on_wait_timeout`) before the timeout error is raised.

    :param poll_interval: seconds between status reads while waiting.
    :param timeout: seconds to wait at most (default 7 days, as Airflow's sensors).
    :param max_consecutive_failures: transient poll failures in a row tolerated (default 10).
    """

    trigger_class: ClassVar[type[RemoteTaskTrigger]]

    def __init__(
        self,
        *,
        deferrable: bool | None = None,
        poll_interval: float = 30.0,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
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
        self.max_consecutive_failures = validate_budget(max_consecutive_failures)

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
        deadline = deadline_for(
            timeout=self.timeout, started=time.time(), execution_timeout=self.execution_timeout, context=context
        )
        if self.deferrable and not first.state.is_terminal:
            self.log.info("%s; deferring", first.describe())
            context["ti"].xcom_push(key=DEFERRED_WAIT_KEY, value={"item_id": item_id, "owned": owned})
            self.defer(
                trigger=self.trigger_class.for_wait(
                    item_id,
                    self.conn_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                    max_consecutive_failures=self.max_consecutive_failures,
                    **(trigger_kwargs or {}),
                ),
                method_name="execute_complete",
                kwargs={"item_id": item_id, "owned": owned},
                timeout=None if deadline is None else deadline.deferral_timeout(),
            )
        wait = Wait(
            first.service,
            item_id,
            max_consecutive_failures=self.max_consecutive_failures,
            deadline=deadline,
            log=self.log,
        )
        try:
            event = poll_until_done(
                self.hook, wait, poll_interval=self.poll_interval, fetch_kwargs=self.fetch_kwargs(), first=first
            )
        except AirflowTaskTimeout:  # execution_timeout interrupted the wait (SIGALRM in the task process)
            if owned:
                self.on_wait_timeout(context, item_id, "execution_timeout")
            raise
        return self.resolve(context, event, item_id, owned=owned)

    def offer_wait_in_triggerer(self, asked: bool, item_id: Any, **trigger_fields: Any) -> None:
        """``start_from_trigger`` for an operator that only waits for a task it was given (Airflow 3.3+):
        the trigger waits for ``item_id`` from the start; the worker runs only :meth:`execute_complete`."""
        self.offer_start_from_trigger(
            asked,
            trigger_class=self.trigger_class,
            trigger_kwargs={
                self.trigger_class.id_kwarg: item_id,
                self.hook_class.conn_name_attr: self.conn_id,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
                "execution_timeout": None if self.execution_timeout is None else self.execution_timeout.total_seconds(),
                "max_consecutive_failures": self.max_consecutive_failures,
                "link_key": self.link_class().xcom_key,
                **trigger_fields,
            },
            timeout=self.timeout,
        )

    def resolve(self, context: Context, event: Any, item_id: str | int, *, owned: bool = False) -> dict[str, Any]:
        """Validate an event; a timeout calls :meth:`on_wait_timeout` (for a job we own) before failing."""

        def on_timeout(timeout: WaitTimeout) -> None:
            if owned:
                self.on_wait_timeout(context, item_id, timeout.limit)

        return end_wait(self.hook, event, item_id, self.fetch_kwargs(), on_timeout=on_timeout)

    def fetch_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments of ``hook.get_snapshot`` for the waited task (e.g. OpenReplay's project_key)."""
        return {}

    def on_wait_timeout(self, context: Context, item_id: str | int, limit: str) -> None:
        """Called when the wait for a task this operator created times out (before the task fails);
        ``limit`` is ``timeout`` or ``execution_timeout``."""

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
        if self.start_from_trigger:  # the trigger pushed the link already; again here, should it have failed
            self.push_link(context, item_id, **self.fetch_kwargs())
        return self.finish(context, self.resolve(context, event, item_id, owned=owned))

    def waited_id(self, event: Any) -> str | int:
        """The id this task waited for, when the resume did not say it."""
        raise NotImplementedError

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """When Airflow itself ends the deferral at its timeout (the triggerer was down past the
        trigger's deadline), end like the trigger's own timeout: cancel a job we own, then fail."""
        if crossed_event(next_method, next_kwargs) is not None:
            self.log.warning("Airflow's deferral timeout crossed the trigger's event; ending with the event")
            return self.execute_complete(context, **dict(next_kwargs or {}))
        error = deferral_timeout_error(next_method, next_kwargs)
        if error is None:
            return super().resume_execution(next_method, next_kwargs, context)
        deferred = context["ti"].xcom_pull(task_ids=self.task_id, key=DEFERRED_WAIT_KEY)
        if not isinstance(deferred, Mapping) or deferred.get("item_id") is None:
            raise AirflowTaskTimeout(f"Airflow ended the deferral ({error})")
        item_id = deferred["item_id"]
        event = timeout_event(None, self.hook_class.service_name, item_id)
        event["message"] = f"Airflow ended the deferral ({error})"
        return self.resolve(context, event, item_id, owned=deferred.get("owned") is True)

"""The sensor every service's sensor is: poke, reschedule and deferrable modes with one outcome."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
)

from airflow_provider_tasks._compat import deferral_timeout_error
from airflow_provider_tasks.exceptions import RemoteError, RemoteTransientError
from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.links import RemoteTaskLink
from airflow_provider_tasks.triggers.base import RemoteTaskTrigger
from airflow_provider_tasks.validation import default_deferrable, is_template
from airflow_provider_tasks.waiting import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    FailureBudget,
    SnapshotLog,
    WaitTimeout,
    complete_event,
    event_from_snapshot,
    resolve_event,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = ["RemoteTaskSensor"]


class RemoteTaskSensor(BaseSensorOperator):
    """Waits until a remote task/job is terminal; returns (XCom) the final remote object.

    A failure terminal raises :class:`~airflow_provider_tasks.exceptions.RemoteTaskFailed`;
    with ``soft_fail=True`` it skips instead, in every mode alike. Transient errors (each already
    retried by the hook) are tolerated for ``max_consecutive_failures`` pokes in a row.
    """

    hook_class: ClassVar[type[RemoteTaskHook]]
    trigger_class: ClassVar[type[RemoteTaskTrigger]]
    link_class: ClassVar[type[RemoteTaskLink]]
    #: name of the templated id attribute, e.g. ``posteketab_task_id``.
    id_attr: ClassVar[str]
    min_poke_interval: ClassVar[float] = 0.0

    def __init__(
        self,
        *,
        item_id: Any,
        conn_id: str,
        deferrable: bool | None,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if float(self.poke_interval) < self.min_poke_interval:
            self.log.warning(
                "poke_interval %s is below the %s minimum of %s s; using %s s",
                self.poke_interval,
                self.hook_class.service_name,
                self.min_poke_interval,
                self.min_poke_interval,
            )
            self.poke_interval = self.min_poke_interval
        setattr(self, self.id_attr, item_id)
        setattr(self, self.hook_class.conn_name_attr, conn_id)
        self.conn_id = conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.max_consecutive_failures = max_consecutive_failures
        FailureBudget(max_consecutive_failures)  # validates
        self._hook: RemoteTaskHook | None = None
        self._budget: FailureBudget | None = None
        self._progress: SnapshotLog | None = None
        if not is_template(item_id):
            self.validate_id(item_id)  # a literal bad id fails at DAG parse, not at run time

    # ------------------------------------------------------------------ per-service parts
    def validate_id(self, value: Any) -> str | int:
        """Check the (rendered) id; raise ValueError naming the parameter and value."""
        raise NotImplementedError

    def fetch_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments of ``hook.get_snapshot`` (e.g. OpenReplay's project_key)."""
        return {}

    def trigger_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments of the trigger."""
        return self.fetch_kwargs()

    # ------------------------------------------------------------------ shared
    @property
    def item_id(self) -> str | int:
        return self.validate_id(getattr(self, self.id_attr))

    def get_hook(self) -> RemoteTaskHook:
        return self.hook_class(self.conn_id)  # type: ignore[call-arg]

    @property
    def hook(self) -> RemoteTaskHook:
        """The hook, created on first use (never at DAG parse time)."""
        if self._hook is None:
            self._hook = self.get_hook()
        return self._hook

    def _finish(self, event: Any) -> Any:
        """Turn an event into the XCom value or the error, applying soft_fail the same in every mode."""
        try:
            event = complete_event(self.hook, event, self.item_id, self.fetch_kwargs())
            return resolve_event(event, self.hook_class.service_name, self.item_id)
        except WaitTimeout as timeout:
            if self.soft_fail:
                raise AirflowSkipException(f"{timeout} (soft_fail)") from None
            raise AirflowSensorTimeout(str(timeout)) from None
        except Exception as error:
            if self.soft_fail:
                raise AirflowSkipException(f"{error} (soft_fail)") from error
            raise

    def poke(self, context: Context) -> bool | PokeReturnValue:
        item_id = self.item_id
        service = self.hook_class.service_name
        if self._budget is None or self._progress is None:
            self._budget, self._progress = FailureBudget(self.max_consecutive_failures), SnapshotLog(self.log)
        try:
            snapshot = self.hook.get_snapshot(item_id, **self.fetch_kwargs())
        except RemoteError as error:
            if isinstance(error, RemoteTransientError) and not self._budget.failure(error):
                self.log.warning("%s %s: poke failed (%s); will poke again", service, item_id, error)
                return False
            if self.soft_fail:  # as Airflow does on resume in deferrable mode
                raise AirflowSkipException(f"{error} (soft_fail)") from error
            raise
        self._budget.success()
        self._progress.record(snapshot)
        event = event_from_snapshot(snapshot)
        if event is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(event))

    def execute(self, context: Context) -> Any:
        item_id = self.item_id  # bad input fails here, before any request
        self.link_class.persist(context, self.hook.web_url(item_id, **self.fetch_kwargs()))
        if not self.deferrable:
            return super().execute(context)
        # Check once: a finished task never defers.
        first = self.poke(context)
        if isinstance(first, PokeReturnValue) and first.is_done:
            return first.xcom_value
        self.log.info("%s %s not finished; deferring", self.hook_class.service_name, item_id)
        self.defer(
            trigger=self.trigger_class.for_wait(
                item_id,
                self.conn_id,
                poll_interval=float(self.poke_interval),
                end_time=time.time() + float(self.timeout),
                max_consecutive_failures=self.max_consecutive_failures,
                **self.trigger_kwargs(),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Resume after deferral: validate the trigger's event and end like poke mode would."""
        return self._finish(event)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Airflow's own deferral timeout (the backstop of the trigger's deadline) ends as a sensor timeout
        (or a skip with ``soft_fail``), and ``never_fail`` skips any failure, on Airflow 2.11 as on 3.x."""
        try:
            error = deferral_timeout_error(next_method, next_kwargs)
            if error is None:
                return super().resume_execution(next_method, next_kwargs, context)
            return self._finish(
                {
                    "status": "timeout",
                    "service": self.hook_class.service_name,
                    "id": self.item_id,
                    "message": f"Airflow ended the deferral ({error})",
                }
            )
        except AirflowSkipException:
            raise
        except AirflowException as failure:
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from failure
            raise

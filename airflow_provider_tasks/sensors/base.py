"""The sensor every service's sensor is: poke, reschedule and deferrable modes, one set of rules.

Each mode only reads statuses its own way; the decisions (failure budget, deadline, the event, what
``soft_fail`` may skip) are :mod:`airflow_provider_tasks.waits.policy`'s.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowSkipException,
    BaseOperator,
    BaseSensorOperator,
    PokeReturnValue,
)

from airflow_provider_tasks._compat import deferral_timeout_error, first_reschedule_date
from airflow_provider_tasks.exceptions import RemoteError, RemoteTransientError
from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.links import RemoteTaskLink
from airflow_provider_tasks.triggers.base import RemoteTaskTrigger
from airflow_provider_tasks.triggers.starting import StartFromTrigger, crossed_event
from airflow_provider_tasks.validation import default_deferrable, is_template
from airflow_provider_tasks.waits.events import timeout_event
from airflow_provider_tasks.waits.policy import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    Wait,
    deadline_for,
    end_wait,
    validate_budget,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = ["RESCHEDULE_MIN_INTERVAL", "RemoteTaskSensor"]

#: Least ``poke_interval`` in reschedule mode. Below it Airflow itself fails rescheduled sensors: the
#: executor's success for one poke can reach the scheduler after the next poke was queued, and the
#: scheduler then marks that try failed (apache/airflow#71172). Measured by bench/reschedule_floor.py: failures
#: up to 5 s, none from 8 s (README, "Why reschedule mode has a floor"); tests/e2e runs each sensor at it.
RESCHEDULE_MIN_INTERVAL = 15.0
#: Where reschedule mode keeps the failure count between tries (Airflow 3.3+ task state store).
_FAILURES_KEY = "airflow_provider_tasks.consecutive_failures"


class RemoteTaskSensor(BaseSensorOperator, StartFromTrigger):
    """Waits until a remote task/job is terminal; returns (XCom) the final remote object.

    A failure terminal raises :class:`~airflow_provider_tasks.exceptions.RemoteTaskFailed`. With
    ``soft_fail=True`` that and a timeout skip the task instead, in every mode alike, and nothing
    else does: auth, not-found and API errors, and an exhausted failure budget, fail. Transient
    errors (each already retried by the hook) are tolerated for ``max_consecutive_failures`` polls in
    a row, also across reschedules.

    ``start_from_trigger=True`` (Airflow 3.3+, implies ``deferrable``) starts the wait in the
    triggerer: no worker launch checks and defers, only the resume runs in a worker. Where Airflow
    cannot honour it, the sensor defers from a worker as usual and logs why
    (:mod:`~airflow_provider_tasks.triggers.starting`).
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
        start_from_trigger: bool = False,
        trigger_fields: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        #: What the DAG asked for; raised to the service's floor now, and said so in the task's log.
        self.requested_poke_interval = float(self.poke_interval)
        self.poke_interval = max(self.requested_poke_interval, self.min_poke_interval)
        setattr(self, self.id_attr, item_id)
        setattr(self, self.hook_class.conn_name_attr, conn_id)
        for name, value in (trigger_fields or {}).items():  # the service's own fields, e.g. project_key
            setattr(self, name, value)
        self.conn_id = conn_id
        if start_from_trigger and deferrable is False:
            raise ValueError("start_from_trigger=True starts the wait in the triggerer: it needs deferrable=True")
        self.deferrable = True if start_from_trigger else default_deferrable() if deferrable is None else deferrable
        self.max_consecutive_failures = validate_budget(max_consecutive_failures)
        self._hook: RemoteTaskHook | None = None
        self._wait: Wait | None = None
        if not is_template(item_id):
            self.validate_id(item_id)  # a literal bad id fails at DAG parse, not at run time
        self.offer_start_from_trigger(
            start_from_trigger,
            trigger_class=self.trigger_class,
            trigger_kwargs={
                self.trigger_class.id_kwarg: item_id,
                self.hook_class.conn_name_attr: conn_id,
                "poll_interval": float(self.poke_interval),
                "timeout": float(self.timeout),
                "execution_timeout": None if self.execution_timeout is None else self.execution_timeout.total_seconds(),
                "max_consecutive_failures": self.max_consecutive_failures,
                "link_key": self.link_class().xcom_key,
                **(trigger_fields or {}),
            },
            timeout=float(self.timeout),
        )

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

    def _apply_interval_floors(self) -> None:
        """Raise ``poke_interval`` to what the service and the mode allow, saying so in the task's log
        (at run time: a warning at DAG parse would repeat in the log of every task of the DAG)."""
        floors = [(self.min_poke_interval, f"the {self.hook_class.service_name} minimum")]
        if self.reschedule and not self.deferrable:
            floors.append((RESCHEDULE_MIN_INTERVAL, "the reschedule-mode minimum (apache/airflow#71172)"))
        asked = min(self.requested_poke_interval, float(self.poke_interval))
        for floor, why in floors:
            if asked < floor:
                self.log.warning("poke_interval %s s is below %s; using %s s", asked, why, floor)
                self.poke_interval = max(float(self.poke_interval), floor)

    def _started(self, context: Context) -> float:
        """When this wait began: the first try's start in reschedule mode (as Airflow's loop counts it)."""
        if self.reschedule and not self.deferrable:
            first = first_reschedule_date(context, self.retries)
            if first is not None:
                return float(first.timestamp())
        return time.time()

    def _start_wait(self, context: Context) -> Wait:
        reschedule = self.reschedule and not self.deferrable
        self._wait = Wait(
            self.hook_class.service_name,
            self.item_id,
            max_consecutive_failures=self.max_consecutive_failures,
            # In reschedule mode execution_timeout bounds each try's run, not the wait (Airflow's rule).
            deadline=deadline_for(
                timeout=float(self.timeout),
                started=self._started(context),
                execution_timeout=None if reschedule else self.execution_timeout,
                context=context,
            ),
            failures=_load_failures(context) if reschedule else 0,
            log=self.log,
        )
        return self._wait

    def _finish(self, event: Any) -> Any:
        """Turn an event into the XCom value or the error (the same in every mode)."""
        return end_wait(self.hook, event, self.item_id, self.fetch_kwargs(), soft_fail=self.soft_fail, sensor=True)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        wait = self._wait or self._start_wait(context)
        keep_count = self.reschedule and not self.deferrable
        before = wait.failures
        while True:
            try:
                result: Any = self.hook.get_snapshot(wait.item_id, **self.fetch_kwargs())
            except RemoteError as error:
                result = error
            event = wait.observe(result) or wait.expired()
            if event is not None:
                if keep_count and before:
                    _save_failures(context, 0)
                return PokeReturnValue(is_done=True, xcom_value=self._finish(event))
            if not keep_count or not isinstance(result, RemoteTransientError):
                break
            if _save_failures(context, wait.failures):
                return False
            # No task state store (Airflow < 3.3): keep the count by retrying within this try.
            time.sleep(wait.pause(float(self.poke_interval)))
        if keep_count and before and wait.failures == 0:
            _save_failures(context, 0)
        return False

    def execute(self, context: Context) -> Any:
        self.log_start_fallback(context)  # execute() never runs when the task started in the triggerer
        item_id = self.item_id  # bad input fails here, before any request
        self._apply_interval_floors()
        self.link_class.persist(context, self.hook.web_url(item_id, **self.fetch_kwargs()))
        wait = self._start_wait(context)
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
                deadline=wait.deadline,
                max_consecutive_failures=self.max_consecutive_failures,
                **self.trigger_kwargs(),
            ),
            method_name="execute_complete",
            timeout=self._deferral_timeout(wait),
        )

    def _deferral_timeout(self, wait: Wait) -> timedelta | None:
        """Airflow's own deferral timeout: the sensor's ``timeout`` (both ends give the same outcome,
        :meth:`resume_execution` maps Airflow's to a sensor timeout), or what is left of a nearer
        ``execution_timeout``."""
        if wait.deadline is None:
            return None
        if wait.deadline.limit == "timeout":
            return timedelta(seconds=float(self.timeout))
        return timedelta(seconds=max(0.0, wait.deadline.remaining()))

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Resume after deferral: validate the trigger's event and end like poke mode would."""
        if self.start_from_trigger:  # the trigger pushed the link already; again here, should it have failed
            self.link_class.persist(context, self.hook.web_url(self.item_id, **self.fetch_kwargs()))
        return self._finish(event)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Resume from the trigger with our own rules, not the sensor base's (which lets ``soft_fail``
        skip any error on resume): Airflow's deferral timeout ends as a timeout, ``never_fail`` skips
        any failure, on Airflow 2.11 as on 3.x."""
        try:
            crossed = crossed_event(next_method, next_kwargs)
            if crossed is not None:
                self.log.warning("Airflow's deferral timeout crossed the trigger's event; ending with the event")
                return self.execute_complete(context, crossed)
            error = deferral_timeout_error(next_method, next_kwargs)
            if error is None:
                return BaseOperator.resume_execution(self, next_method, next_kwargs, context)
            event = timeout_event(None, self.hook_class.service_name, self.item_id)
            return self._finish({**event, "message": f"Airflow ended the deferral ({error})"})
        except AirflowSkipException:
            raise
        except Exception as failure:
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from failure
            raise


def _store(context: Context) -> Any:
    return context.get("task_state_store")  # type: ignore[misc]


def _try_number(context: Context) -> int:
    return int(getattr(context.get("ti"), "try_number", 0) or 0)  # type: ignore[misc]


def _load_failures(context: Context) -> int:
    """The failure count an earlier reschedule of this try left (0 without a task state store)."""
    store = _store(context)
    if store is None:
        return 0
    saved = store.get(_FAILURES_KEY)
    if isinstance(saved, dict) and saved.get("try") == _try_number(context):
        return int(saved.get("failures") or 0)
    return 0


def _save_failures(context: Context, failures: int) -> bool:
    """Keep the count for the next reschedule; False when Airflow has no task state store (< 3.3)."""
    store = _store(context)
    if store is None:
        return False
    if failures:
        store.set(_FAILURES_KEY, {"try": _try_number(context), "failures": failures})
    else:
        store.delete(_FAILURES_KEY)
    return True

"""The one trigger every service's trigger is: a wait on the triggerer's shared poller.

A task that defers from a worker hands the trigger its deadline (``end_time``). A task that starts in
the triggerer (``start_from_trigger``, :mod:`.starting`) never ran in a worker: the triggerer renders
its templated id into the trigger, which then checks it, pushes the task's extra link, and takes its
deadline from ``timeout``/``execution_timeout`` and the moment Airflow deferred the task.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.loop_logging import HeldLog, alog
from airflow_provider_tasks.triggers.starting import DEFERRAL_LEAD, airflow_timeout
from airflow_provider_tasks.waits import poller
from airflow_provider_tasks.waits.events import error_event
from airflow_provider_tasks.waits.policy import DEFAULT_MAX_CONSECUTIVE_FAILURES, Deadline, Wait

__all__ = ["RemoteTaskTrigger"]


class RemoteTaskTrigger(BaseTrigger):
    """Polls one remote task/job asynchronously until it is terminal, then fires one event.

    Transient failures are retried inside each call by the hook and, beyond that, for up to
    ``max_consecutive_failures`` polls in a row, so a passing outage never ends a long wait.
    The event is the one :func:`~airflow_provider_tasks.waits.policy.outcome` reads.

    :param item_id: the task/job id.
    :param conn_id: Airflow connection id.
    :param poll_interval: seconds between polls.
    :param end_time: epoch seconds after which a ``timeout`` event fires (None: wait forever).
    :param deadline_limit: which limit ``end_time`` is (``timeout`` or ``execution_timeout``), so the
        resumed task reports that limit's error.
    :param max_consecutive_failures: transient poll failures in a row before an ``error`` event.
    :param delay_first_poll: wait one interval before the first poll (the deferring task has just
        read the status; polling again at once would only spend the service's rate limit).
    :param timeout: with ``start_from_trigger``: seconds the wait may last from the moment Airflow
        deferred the task (used when ``end_time`` is None).
    :param execution_timeout: with ``start_from_trigger``: the task's ``execution_timeout`` in seconds.
    :param link_key: with ``start_from_trigger``: the XCom key under which the trigger pushes the
        service's web address for the task's extra link (no worker ran to push it).
    """

    hook_class: ClassVar[type[RemoteTaskHook]]
    #: name of the id keyword of the subclass, e.g. ``posteketab_task_id``.
    id_kwarg: ClassVar[str]

    def __init__(
        self,
        *,
        item_id: str | int,
        conn_id: str,
        poll_interval: float,
        end_time: float | None = None,
        deadline_limit: str = "timeout",
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
        delay_first_poll: bool = False,
        timeout: float | None = None,
        execution_timeout: float | None = None,
        link_key: str | None = None,
    ) -> None:
        super().__init__()
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0 seconds, got {poll_interval!r}")
        self.item_id = item_id
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time
        self.deadline_limit = deadline_limit
        self.max_consecutive_failures = max_consecutive_failures
        self.delay_first_poll = delay_first_poll
        self.timeout = timeout
        self.execution_timeout = execution_timeout
        self.link_key = link_key

    @property
    def item_id(self) -> Any:
        """The waited id, kept under the id keyword's own name (``job_id``...): that is the attribute the
        triggerer renders when the task starts in the triggerer (the operator's template field)."""
        return getattr(self, type(self).id_kwarg)

    @item_id.setter
    def item_id(self, value: Any) -> None:
        setattr(self, type(self).id_kwarg, value)

    @classmethod
    def for_wait(
        cls,
        item_id: str | int,
        conn_id: str,
        *,
        poll_interval: float,
        deadline: Deadline | None,
        **kwargs: Any,
    ) -> RemoteTaskTrigger:
        """The trigger a sensor or waiting operator defers to. Its first poll waits one interval: the
        deferring task has just read the status."""
        return cls(  # type: ignore[call-arg]
            **{
                cls.id_kwarg: item_id,
                cls.hook_class.conn_name_attr: conn_id,
                "poll_interval": poll_interval,
                "end_time": None if deadline is None else deadline.at,
                "deadline_limit": "timeout" if deadline is None else deadline.limit,
                "delay_first_poll": True,
                **kwargs,
            }
        )

    # ------------------------------------------------------------------ per-service parts
    def validate_id(self, value: Any) -> str | int:
        """Check the (rendered) id; raise ValueError naming the parameter and value."""
        return value  # type: ignore[no-any-return]

    def fetch_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments of ``hook.aget_snapshot`` (e.g. OpenReplay's project_key)."""
        return {}

    def event_extras(self) -> dict[str, Any]:
        """Keys added to every event (a resumed task may only see the event, as in ``airflow dags test``)."""
        return {}

    def _event(self, payload: dict[str, Any]) -> TriggerEvent:
        return TriggerEvent({**payload, **self.event_extras()})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        cls = type(self)
        return (
            f"{cls.__module__}.{cls.__qualname__}",
            {
                self.id_kwarg: self.item_id,
                self.hook_class.conn_name_attr: self.conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "deadline_limit": self.deadline_limit,
                "max_consecutive_failures": self.max_consecutive_failures,
                "delay_first_poll": self.delay_first_poll,
                **{  # start_from_trigger only: left out otherwise, so deferrals serialize as before
                    name: value
                    for name, value in (
                        ("timeout", self.timeout),
                        ("execution_timeout", self.execution_timeout),
                        ("link_key", self.link_key),
                    )
                    if value is not None
                },
                **self.fetch_kwargs(),
            },
        )

    def make_hook(self) -> RemoteTaskHook:
        return self.hook_class(self.conn_id)  # type: ignore[call-arg]

    # ------------------------------------------------------------------ starting in the triggerer
    def _deadline(self) -> Deadline | None:
        """``end_time`` when the task computed it. Else the task started in the triggerer, and Airflow set
        its own deferral timeout (``timeout_after``, kept by the task instance, so a triggerer restart does
        not reset it) from the same limits plus :data:`DEFERRAL_BACKSTOP`, as
        :func:`~airflow_provider_tasks.triggers.starting.airflow_timeout` says: the trigger's deadline is
        the limit itself, at least :data:`DEFERRAL_LEAD` before Airflow's, so the trigger's timeout event
        always comes first (the resume then knows which limit passed)."""
        deadline = Deadline.from_event_kwargs(self.end_time, self.deadline_limit)
        if deadline is not None or (self.timeout is None and self.execution_timeout is None):
            return deadline
        limits = [
            (float(s), name)
            for s, name in ((self.timeout, "timeout"), (self.execution_timeout, "execution_timeout"))
            if s is not None
        ]
        seconds, limit = min(limits)
        after = getattr(self, "timeout_after", None)
        if not isinstance(after, datetime.datetime):  # Airflow did not say: the clock starts now
            return Deadline(time.time() + seconds, limit)
        if after.tzinfo is None:
            after = after.replace(tzinfo=datetime.UTC)
        airflow_at = after.timestamp()
        started = airflow_at - airflow_timeout(self.timeout, self.execution_timeout)
        return Deadline(min(started + seconds, airflow_at - DEFERRAL_LEAD), limit)

    async def _push_link(self, item_id: str | int) -> None:
        """Push the service's web address for the extra link (best effort: a link never fails a wait)."""
        ti = self.task_instance
        if not self.link_key or ti is None:  # only a task started in the triggerer asks (link_key)
            return
        hook = self.make_hook()
        try:
            await hook.asettings()
            url = hook.web_url(item_id, **self.fetch_kwargs())
            if url:
                await _push_xcom(ti, self.link_key, url)
        except Exception as error:
            await alog(self.log, "warning", "Could not push the %s link: %s", self.hook_class.service_name, error)
        finally:
            await hook.aclose()

    # ------------------------------------------------------------------ the loop
    async def run(self) -> AsyncIterator[TriggerEvent]:
        service = self.hook_class.service_name
        try:  # a templated id is rendered only now when the task started in the triggerer
            self.item_id = self.validate_id(self.item_id)
        except ValueError as error:
            yield self._event(error_event(service, str(self.item_id), error))
            return
        await self._push_link(self.item_id)
        held = HeldLog()  # the wait's lines, written off the loop (see loop_logging)
        wait = Wait(
            service,
            self.item_id,
            max_consecutive_failures=self.max_consecutive_failures,
            deadline=self._deadline(),
            log=held,
        )
        # Waits on the same connection share one poller (one request per round for many waits).
        async with poller.subscribe(
            self.hook_class,
            self.conn_id,
            self.item_id,
            poll_interval=self.poll_interval,
            fetch_kwargs=self.fetch_kwargs(),
            delay_first_poll=self.delay_first_poll,
        ) as waiter:
            while True:
                event = wait.expired()
                if event is None:
                    try:
                        # Not asyncio.wait_for: on Python 3.11 it runs next() in a task of its own, three
                        # more turns of the loop before this wait listens again (see Poller._rounds).
                        async with asyncio.timeout(wait.remaining()):
                            result = await waiter.next()
                        event = wait.observe(result)
                    except TimeoutError:
                        event = wait.expired(force=True)
                held.write_soon(self.log)
                if event is not None:
                    yield self._event(event)
                    return


async def _push_xcom(ti: Any, key: str, value: Any) -> None:
    """Push an XCom for the trigger's task instance from the triggerer. Not ``ti.axcom_push``: on Airflow
    3.3.2 it reads ``ti.task.returns_dag_result``, which the triggerer's deserialized task lacks."""
    from airflow.providers.common.compat.sdk import XCom

    where = {"dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id, "map_index": ti.map_index}
    aset = getattr(XCom, "aset", None)
    if aset is not None:
        await aset(key=key, value=value, **where)
    else:
        await asyncio.to_thread(XCom.set, key=key, value=value, **where)

"""The one trigger every service's trigger is: a wait on the triggerer's shared poller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_tasks.hooks.base import RemoteTaskHook
from airflow_provider_tasks.waits import poller
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
                **self.fetch_kwargs(),
            },
        )

    def make_hook(self) -> RemoteTaskHook:
        return self.hook_class(self.conn_id)  # type: ignore[call-arg]

    # ------------------------------------------------------------------ the loop
    async def run(self) -> AsyncIterator[TriggerEvent]:
        wait = Wait(
            self.hook_class.service_name,
            self.item_id,
            max_consecutive_failures=self.max_consecutive_failures,
            deadline=Deadline.from_event_kwargs(self.end_time, self.deadline_limit),
            log=self.log,
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
                        event = wait.observe(await asyncio.wait_for(waiter.next(), wait.remaining()))
                    except TimeoutError:
                        event = wait.expired(force=True)
                if event is not None:
                    yield self._event(event)
                    return

"""Every decision a wait makes, in one place, whatever the mode.

Poke mode, reschedule mode, the waiting operators' blocking loop and the trigger are thin adapters:
they read statuses their own way and feed each result to a :class:`Wait`, which keeps the failure
budget, logs progress, and says when the wait ends and with which event; the deadline is a
:class:`Deadline` computed by :func:`deadline_for`; and :func:`outcome` turns the final event into
the task's value or error, deciding here alone what ``soft_fail`` may skip.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException, AirflowTaskTimeout

from airflow_provider_tasks.exceptions import RemoteTaskFailed, RemoteTransientError
from airflow_provider_tasks.states import RemoteState, TaskSnapshot
from airflow_provider_tasks.waits.events import (
    WaitTimeout,
    complete_event,
    error_event,
    event_from_snapshot,
    resolve_event,
    timeout_event,
)

if TYPE_CHECKING:
    from airflow_provider_tasks.hooks.base import RemoteTaskHook

__all__ = [
    "DEFAULT_MAX_CONSECUTIVE_FAILURES",
    "DEFAULT_TIMEOUT",
    "DEFERRAL_BACKSTOP",
    "Deadline",
    "Wait",
    "deadline_for",
    "end_wait",
    "outcome",
    "validate_budget",
]

#: Consecutive polls allowed to fail transiently (each already retried by the hook) before a wait gives up.
DEFAULT_MAX_CONSECUTIVE_FAILURES = 10
#: How long a wait lasts at most unless told otherwise: seven days, as Airflow's sensors.
DEFAULT_TIMEOUT = 7 * 24 * 3600.0
#: Airflow's own deferral timeout is set this long after the trigger's deadline, so the trigger's
#: timeout event (which the task can act on, e.g. cancel a job it created) always comes first.
DEFERRAL_BACKSTOP = 60.0


def validate_budget(value: Any) -> int:
    """``max_consecutive_failures`` as an int >= 1, or ``ValueError`` naming the value."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_consecutive_failures must be an integer >= 1, got {value!r}")
    return value


@dataclass(frozen=True)
class Deadline:
    """When a wait must end: ``at`` (epoch seconds) and the limit that sets it (``timeout`` or
    ``execution_timeout``), so the task reports the error of the limit that passed."""

    at: float
    limit: str = "timeout"

    def remaining(self, now: float | None = None) -> float:
        return self.at - (time.time() if now is None else now)

    def passed(self, now: float | None = None) -> bool:
        return self.remaining(now) <= 0

    def deferral_timeout(self) -> datetime.timedelta:
        """The ``timeout`` to pass to ``defer()``: Airflow's backstop, after the trigger's own deadline."""
        return datetime.timedelta(seconds=max(0.0, self.remaining()) + DEFERRAL_BACKSTOP)

    @classmethod
    def from_event_kwargs(cls, end_time: float | None, limit: str | None) -> Deadline | None:
        """The deadline a trigger was given (serialized as ``end_time`` and ``deadline_limit``)."""
        if end_time is None:
            return None
        return cls(float(end_time), "execution_timeout" if limit == "execution_timeout" else "timeout")


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return None


def deadline_for(
    *,
    timeout: float | None,
    started: float,
    execution_timeout: datetime.timedelta | None = None,
    context: Mapping[str, Any] | None = None,
) -> Deadline | None:
    """The earlier of the wait's own ``timeout`` (seconds from ``started``) and the task's
    ``execution_timeout`` (from the start of this try, read from the context's task instance).

    Airflow 3 enforces ``execution_timeout`` only while the task process runs, not while it is
    deferred (the task runner leaves it as a TODO): folding it in here makes a deferred wait end at it too.
    """
    candidates: list[Deadline] = []
    if timeout is not None:
        candidates.append(Deadline(started + float(timeout), "timeout"))
    if execution_timeout is not None:
        ti = (context or {}).get("ti")
        try_started = _timestamp(getattr(ti, "start_date", None)) or started
        candidates.append(Deadline(try_started + execution_timeout.total_seconds(), "execution_timeout"))
    return min(candidates, key=lambda deadline: deadline.at, default=None)


class Wait:
    """One wait's progress, fed each poll's result in every mode.

    It keeps the failure budget (``max_consecutive_failures`` transient failures in a row end the wait;
    ``failures`` lets reschedule mode carry the count over from an earlier try), logs the remote state
    only when it moves, and returns the wait's final event, or ``None`` to keep waiting.
    """

    def __init__(
        self,
        service: str,
        item_id: str | int,
        *,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
        deadline: Deadline | None = None,
        failures: int = 0,
        log: logging.Logger | Any = None,
    ) -> None:
        self.service = service
        self.item_id = item_id
        self.limit = validate_budget(max_consecutive_failures)
        self.deadline = deadline
        self.failures = max(0, int(failures))
        self.last: TaskSnapshot | None = None
        self._log = log if log is not None else logging.getLogger(__name__)
        self._logged: tuple[RemoteState, int | None, Any] | None = None

    def observe(self, result: TaskSnapshot | BaseException) -> dict[str, Any] | None:
        """Take one poll's result (a snapshot or the error reading it met); return the final event or None."""
        if isinstance(result, RemoteTransientError):
            self.failures += 1
            if self.failures >= self.limit:
                self._log.error(
                    "%s %s: %d polls in a row failed (the last: %s); giving up",
                    self.service,
                    self.item_id,
                    self.failures,
                    result,
                )
                return error_event(self.service, self.item_id, result)
            self._log.warning(
                "%s %s: poll failed (%s); %d of %d failures in a row allowed, will poll again",
                self.service,
                self.item_id,
                result,
                self.failures,
                self.limit,
            )
            return None
        if isinstance(result, BaseException):
            return error_event(self.service, self.item_id, result)
        self.failures = 0
        self.last = result
        self._record(result)
        return event_from_snapshot(result)

    def _record(self, snapshot: TaskSnapshot) -> None:
        key = (snapshot.state, snapshot.progress, snapshot.remote_status)
        if key != self._logged:
            self._logged = key
            self._log.info("%s", snapshot.describe())

    def expired(self, now: float | None = None, *, force: bool = False) -> dict[str, Any] | None:
        """The timeout event once the deadline passed (``force``: the caller's own clock says it did), else None."""
        if self.deadline is None or not (force or self.deadline.passed(now)):
            return None
        return timeout_event(self.last, self.service, self.item_id, limit=self.deadline.limit)

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds until the deadline (None: no deadline)."""
        return None if self.deadline is None else max(0.0, self.deadline.remaining(now))

    def pause(self, poll_interval: float) -> float:
        """How long to sleep before the next poll: the interval, or less when the deadline comes first."""
        left = self.remaining()
        return poll_interval if left is None else min(poll_interval, left)


def _timeout_error(timeout: WaitTimeout, sensor: bool) -> BaseException:
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout

    if sensor and timeout.limit == "timeout":
        return AirflowSensorTimeout(str(timeout))
    return AirflowTaskTimeout(str(timeout))


def outcome(
    event: Any,
    service: str,
    item_id: str | int,
    *,
    soft_fail: bool = False,
    sensor: bool = False,
    on_timeout: Callable[[WaitTimeout], None] | None = None,
) -> dict[str, Any]:
    """End a wait: return the final remote object, or raise what the event means.

    ``soft_fail`` skips only what Airflow's own sensors skip: a remote failure (an
    ``AirflowFailException``) and a timeout. Auth, not-found and API errors, an exhausted failure
    budget, and any bug fail the task in every mode. A timeout is ``AirflowSensorTimeout`` for a
    sensor's own ``timeout`` and ``AirflowTaskTimeout`` for ``execution_timeout`` or an operator's
    timeout; ``on_timeout`` runs first (operators cancel the job they created there).
    """
    try:
        return resolve_event(event, service, item_id)
    except WaitTimeout as timeout:
        if on_timeout is not None:
            on_timeout(timeout)
        if soft_fail:
            raise AirflowSkipException(f"{timeout} (soft_fail)") from None
        raise _timeout_error(timeout, sensor) from None
    except RemoteTaskFailed as failure:
        if soft_fail:
            raise AirflowSkipException(f"{failure} (soft_fail)") from failure
        raise


def end_wait(
    hook: RemoteTaskHook,
    event: Any,
    item_id: str | int,
    fetch_kwargs: Mapping[str, Any] | None = None,
    **outcome_kwargs: Any,
) -> dict[str, Any]:
    """:func:`outcome` of ``event`` after reading in full a task that a list showed finished (an error
    of that read fails the task: it is never something ``soft_fail`` may skip)."""
    return outcome(complete_event(hook, event, item_id, fetch_kwargs), hook.service_name, item_id, **outcome_kwargs)

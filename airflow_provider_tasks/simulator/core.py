"""Service-independent machinery of the simulator: timelines, faults and request counters.

Nothing here knows about HTTP or about a particular API, and nothing here imports aiohttp, so the
pytest plugin and ``from airflow_provider_tasks.simulator import Step`` stay cheap. All mutable
objects are guarded by the lock their owner passes in (the simulator's state is touched both by the
event-loop thread that serves requests and by the thread of the test or script driving it).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "FAULT_KINDS",
    "SERVICES",
    "Fault",
    "FaultBook",
    "RequestLog",
    "RequestRecord",
    "Step",
    "Timeline",
    "Transition",
    "monotonic_to_epoch",
]

#: The service names used everywhere in the simulator's API.
SERVICES: tuple[str, ...] = ("posteketab", "openreplay", "mobizon")

#: The fault kinds :meth:`Simulator.add_fault` accepts (see :class:`Fault`).
FAULT_KINDS: frozenset[str] = frozenset(
    {"http", "rate_limit", "code", "slow", "drop", "reset", "html", "truncated_json", "empty_401"}
)


def check_service(service: str) -> str:
    """Return ``service`` if it is one of :data:`SERVICES`, else raise ``ValueError``."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return service


def monotonic_to_epoch(at: float) -> float:
    """Convert a ``time.monotonic()`` reading into seconds since the epoch (wall clock)."""
    return time.time() - (time.monotonic() - at)


# --------------------------------------------------------------------------------------------------
# Timelines
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One stage of a remote item's life: a status held for some polls or some seconds.

    :param status: the service's raw status value (``int`` for Post-e-Ketab and Mobizon, ``str`` for
        OpenReplay, e.g. ``"running"``).
    :param polls: leave this step after this many status reads of the item (the read that uses up
        the count still sees this step's status).
    :param seconds: leave this step once this long has passed since entering it.
        With both ``polls`` and ``seconds`` the step ends at whichever comes first; with neither it
        never ends. The last step of a timeline is terminal and sticks whatever it says.
    :param progress: Mobizon only, the progress (0-100) GetStatus reports during this step
        (default: 100 when the status is 2 "completed", else 0).
    """

    status: int | str
    polls: int | None = None
    seconds: float | None = None
    progress: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.status, bool) or not isinstance(self.status, int | str):
            raise TypeError(f"Step status must be an int or a str, not {self.status!r}")
        if self.polls is not None and (isinstance(self.polls, bool) or self.polls < 1):
            raise ValueError(f"Step polls must be a positive int or None, not {self.polls!r}")
        if self.seconds is not None and self.seconds < 0:
            raise ValueError(f"Step seconds must be >= 0 or None, not {self.seconds!r}")
        if self.progress is not None and not 0 <= self.progress <= 100:
            raise ValueError(f"Step progress must be within 0-100, not {self.progress!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by scenarios and the control API."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Step:
        """Build a step from its JSON form ``{"status": .., "polls": .., "seconds": .., "progress": ..}``."""
        unknown = set(raw) - {"status", "polls", "seconds", "progress"}
        if unknown:
            raise ValueError(f"unknown step field(s): {', '.join(sorted(unknown))}")
        if "status" not in raw:
            raise ValueError("a step needs a 'status'")
        return cls(
            status=raw["status"],
            polls=raw.get("polls"),
            seconds=raw.get("seconds"),
            progress=raw.get("progress"),
        )


def steps_from_json(raw: Iterable[Mapping[str, Any] | Step]) -> tuple[Step, ...]:
    """Turn a list of step dicts (or :class:`Step` objects) into a tuple of steps."""
    return tuple(item if isinstance(item, Step) else Step.from_dict(item) for item in raw)


class Transition(NamedTuple):
    """An item entering a step: ``at`` is ``time.monotonic()``, ``epoch`` the same instant as wall time."""

    step: Step
    at: float
    epoch: float


class Timeline:
    """Walks an item through its :class:`Step` list.

    Time-based steps advance lazily whenever the timeline is looked at, at the exact instant they
    were due (so timestamps derived from :attr:`history` are right even if nobody looked for a
    while). Poll-based steps advance only through :meth:`poll`, which the services call for a read
    of the item's own status and never for list calls.

    Not thread-safe by itself: the owning service holds the simulator lock while using it.

    :param steps: at least one step; the last one is terminal.
    :param now: ``time.monotonic()`` of the item's creation (when it enters the first step).
    :param on_change: called with the monotonic instant of every later status change.
    """

    def __init__(self, steps: Sequence[Step], now: float, on_change: Callable[[float], None] | None = None) -> None:
        if not steps:
            raise ValueError("a timeline needs at least one step")
        self._steps: tuple[Step, ...] = tuple(steps)
        self._on_change = on_change
        self._index = 0
        self._polls = 0
        self._leave_at: float | None = None
        self._history: list[Transition] = [Transition(self._steps[0], now, monotonic_to_epoch(now))]

    @property
    def current(self) -> Step:
        """The current step, without advancing anything."""
        return self._steps[self._index]

    @property
    def history(self) -> Sequence[Transition]:
        """Every step entered so far, oldest first (the first entry is the item's creation)."""
        return tuple(self._history)

    @property
    def terminal(self) -> bool:
        """Whether the timeline sits on its last (sticky) step."""
        return self._index == len(self._steps) - 1

    def peek(self, now: float) -> Step:
        """Apply the step changes that are due and return the current step (not a poll)."""
        if self._leave_at is not None:
            at, self._leave_at = self._leave_at, None
            self._enter(self._index + 1, at)
        while not self.terminal:
            step = self.current
            entered = self._history[-1].at
            if step.seconds is None or now - entered < step.seconds:
                break
            self._enter(self._index + 1, entered + step.seconds)
        return self.current

    def poll(self, now: float) -> Step:
        """A read of the item's own status: return the step it sees, then count the poll.

        When the poll uses up the step's count, the item moves on at ``now``; the move is applied on
        the next look, so :attr:`current` and :attr:`history` still describe what this poll saw.
        """
        step = self.peek(now)
        self._polls += 1
        if not self.terminal and step.polls is not None and self._polls >= step.polls:
            self._leave_at = now
        return step

    def force(self, step: Step, now: float) -> None:
        """Replace the rest of the timeline with ``step``, which becomes terminal, entered at ``now``."""
        self._steps = (step,)
        self._leave_at = None
        self._enter(0, now)

    def _enter(self, index: int, at: float) -> None:
        self._index = index
        self._polls = 0
        self._history.append(Transition(self._steps[index], at, monotonic_to_epoch(at)))
        if self._on_change is not None:
            self._on_change(at)


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    """A failure injected into the next ``times`` matching requests of one service.

    Kinds (the fields each one reads are in brackets):

    ``http`` [status]
        that HTTP status with the small body the service (or its proxy) would send.
    ``rate_limit`` [retry_after]
        HTTP 429; header ``Retry-After`` when ``retry_after`` is given (``"2"`` or an HTTP-date).
    ``code`` [code]
        the service's own error envelope with that code (Post-e-Ketab, Mobizon; code 13 of Mobizon
        names the simulator's second regional server). OpenReplay has no such codes.
    ``slow`` [delay]
        wait ``delay`` seconds, then answer normally.
    ``drop``
        send the response headers, then abort the connection (the request is not processed).
    ``reset``
        abort the connection before sending a single byte (the request is not processed).
    ``html`` [status]
        HTTP ``status`` (default 502) with an HTML error page, as a proxy sends.
    ``truncated_json``
        the request is processed normally but the JSON body is cut in half (HTTP 200).
    ``empty_401``
        HTTP 401 with an empty body (OpenReplay's answer to a bad key).

    ``path`` restricts the fault to requests whose path (no query string) contains it, ``method`` to
    requests of that HTTP method (``"DELETE"``: a cancel, not the reads around it). ``hits``
    counts the requests the fault has answered so far. With ``probability`` below 1 a matching
    request meets the fault only that often (drawn from a generator seeded with ``seed``, so a run
    is repeatable); the others are answered normally and do not use the fault up.
    """

    service: str
    kind: str
    times: int = 1
    path: str | None = None
    status: int | None = None
    code: int | None = None
    retry_after: str | None = None
    delay: float | None = None
    probability: float = 1.0
    seed: int | None = None
    method: str | None = None
    hits: int = field(default=0, compare=False)
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_service(self.service)
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(sorted(FAULT_KINDS))}")
        if isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1:
            raise ValueError(f"fault times must be a positive int, not {self.times!r}")
        if self.kind == "http" and self.status is None:
            raise ValueError("an 'http' fault needs a status")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP status, not {self.status!r}")
        if self.kind == "code":
            if self.code is None:
                raise ValueError("a 'code' fault needs a code")
            if self.service == "openreplay":
                raise ValueError("OpenReplay has no error codes: use kind='http' with a status")
        if self.kind == "slow" and (self.delay is None or self.delay < 0):
            raise ValueError("a 'slow' fault needs a delay >= 0 (seconds)")
        if not 0 < self.probability <= 1:
            raise ValueError(f"fault probability must be in (0, 1], not {self.probability!r}")
        self._random = random.Random(self.seed)

    @property
    def remaining(self) -> int:
        """How many more requests this fault will answer."""
        return self.times - self.hits

    def matches(self, service: str, path: str, method: str | None = None) -> bool:
        """Whether a request of ``service`` to ``path`` (with ``method``) is one this fault applies to."""
        return (
            service == self.service
            and (self.path is None or self.path in path)
            and (self.method is None or method is None or self.method.upper() == method.upper())
            and self.remaining > 0
        )

    def fires(self) -> bool:
        """Draw whether a matching request meets this fault (always, at probability 1)."""
        return self.probability >= 1 or self._random.random() < self.probability

    def to_dict(self) -> dict[str, Any]:
        """JSON form, for the control API."""
        data = asdict(self)
        data.pop("_random", None)
        return data


class FaultBook:
    """The pending faults, consumed in the order they were added."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Queue ``fault`` and return it."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, service: str, path: str, method: str | None = None) -> Fault | None:
        """Use up one application of the first fault matching this request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, path, method) and fault.fires():
                    fault.hits += 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """The faults still waiting for requests."""
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        """Forget every pending fault."""
        with self._lock:
            self._faults.clear()


# --------------------------------------------------------------------------------------------------
# Request counters
# --------------------------------------------------------------------------------------------------


class RequestRecord(NamedTuple):
    """One request the simulator received.

    ``path`` never includes the query string (Mobizon's carries the API key); ``timestamp`` is
    ``time.monotonic()`` at arrival, comparable with ``Simulator.status_changed_at``; ``status`` is
    the HTTP status answered, 0 when the connection was dropped.
    """

    service: str
    method: str
    path: str
    timestamp: float
    status: int


class RequestLog:
    """Counts and remembers the requests made to the three APIs (control calls are not counted).

    Per-service totals are kept incrementally, so unfiltered counts stay O(1) however many requests a
    benchmark makes; repeated paths are interned to keep a long record list small.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._records: list[RequestRecord] = []
        self._totals: dict[str, int] = dict.fromkeys(SERVICES, 0)

    def add(self, record: RequestRecord) -> None:
        """Remember one answered request."""
        record = record._replace(path=sys.intern(record.path))
        with self._lock:
            self._records.append(record)
            self._totals[record.service] = self._totals.get(record.service, 0) + 1

    def records(self) -> list[RequestRecord]:
        """A copy of every record, oldest first."""
        with self._lock:
            return list(self._records)

    def count(self, service: str | None = None, *, path: str | None = None, method: str | None = None) -> int:
        """Requests matching every given filter; ``path`` is a substring, ``method`` case-insensitive."""
        with self._lock:
            if path is None and method is None:
                return self._totals.get(service, 0) if service is not None else sum(self._totals.values())
            wanted_method = method.upper() if method is not None else None
            return sum(1 for record in self._filter(service, path, wanted_method))

    def by_service(self) -> dict[str, int]:
        """Request counts keyed by service name (every service present, even at 0)."""
        with self._lock:
            return dict(self._totals)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()
            self._totals = dict.fromkeys(SERVICES, 0)

    def _filter(self, service: str | None, path: str | None, method: str | None) -> Iterator[RequestRecord]:
        for record in self._records:
            if service is not None and record.service != service:
                continue
            if path is not None and path not in record.path:
                continue
            if method is not None and record.method != method:
                continue
            yield record

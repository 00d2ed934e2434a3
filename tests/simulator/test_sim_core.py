"""Timelines, faults and counters without HTTP."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from airflow_provider_tasks.simulator import Fault, RequestRecord, Step
from airflow_provider_tasks.simulator.core import FaultBook, RequestLog, Timeline, steps_from_json


def test_step_validation() -> None:
    with pytest.raises(TypeError):
        Step(True)
    with pytest.raises(TypeError):
        Step(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="polls"):
        Step(0, polls=0)
    with pytest.raises(ValueError, match="seconds"):
        Step(0, seconds=-1)
    with pytest.raises(ValueError, match="progress"):
        Step(1, progress=101)


def test_step_json_round_trip() -> None:
    step = Step(1, polls=2, seconds=0.5, progress=40)
    assert step.to_dict() == {"status": 1, "polls": 2, "seconds": 0.5, "progress": 40}
    assert Step.from_dict(step.to_dict()) == step
    assert steps_from_json([{"status": "running", "polls": 1}, Step("completed")]) == (
        Step("running", polls=1),
        Step("completed"),
    )
    with pytest.raises(ValueError, match="unknown step field"):
        Step.from_dict({"status": 1, "poll": 2})
    with pytest.raises(ValueError, match="needs a 'status'"):
        Step.from_dict({"polls": 2})


def test_timeline_by_polls() -> None:
    timeline = Timeline([Step(0, polls=2), Step(2, polls=1), Step(3)], now=0.0)
    seen = [timeline.poll(float(i)).status for i in range(1, 7)]
    assert seen == [0, 0, 2, 3, 3, 3]
    assert timeline.terminal
    # the step changes happened right after the polls that used up each count
    assert [(t.step.status, t.at) for t in timeline.history] == [(0, 0.0), (2, 2.0), (3, 3.0)]


def test_peek_never_counts_as_a_poll() -> None:
    timeline = Timeline([Step(0, polls=1), Step(3)], now=0.0)
    for i in range(5):
        assert timeline.peek(float(i)).status == 0
    assert timeline.poll(5.0).status == 0
    assert timeline.peek(6.0).status == 3


def test_timeline_by_seconds_uses_due_instants() -> None:
    changes: list[float] = []
    timeline = Timeline([Step(0, seconds=1.0), Step(2, seconds=2.0), Step(3)], now=10.0, on_change=changes.append)
    assert timeline.peek(10.5).status == 0
    assert timeline.peek(100.0).status == 3  # looked at late: both changes are dated when they were due
    assert [t.at for t in timeline.history] == [10.0, 11.0, 13.0]
    assert changes == [11.0, 13.0]


def test_polls_or_seconds_whichever_first() -> None:
    timeline = Timeline([Step(0, polls=3, seconds=1.0), Step(3)], now=0.0)
    assert timeline.poll(0.1).status == 0
    assert timeline.peek(1.5).status == 3
    other = Timeline([Step(0, polls=1, seconds=100.0), Step(3)], now=0.0)
    assert other.poll(0.1).status == 0
    assert other.poll(0.2).status == 3


def test_last_step_is_terminal_whatever_it_says() -> None:
    timeline = Timeline([Step(0, polls=1), Step(3, polls=1, seconds=0.0)], now=0.0)
    assert [timeline.poll(float(i)).status for i in range(4)] == [0, 3, 3, 3]


def test_force_makes_a_sticky_terminal_step() -> None:
    changes: list[float] = []
    timeline = Timeline([Step(0, polls=1), Step(2, polls=1), Step(3)], now=0.0, on_change=changes.append)
    timeline.poll(1.0)  # leaves step 0 on the next look
    timeline.force(Step(4), 2.0)
    assert [timeline.poll(float(i)).status for i in range(3, 6)] == [4, 4, 4]
    assert [t.step.status for t in timeline.history] == [0, 4]
    assert changes == [2.0]


def test_empty_timeline_is_refused() -> None:
    with pytest.raises(ValueError):
        Timeline([], now=0.0)


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        Fault("tapin", "http", status=500)
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("mobizon", "explode")
    with pytest.raises(ValueError, match="needs a status"):
        Fault("mobizon", "http")
    with pytest.raises(ValueError, match="needs a code"):
        Fault("mobizon", "code")
    with pytest.raises(ValueError, match="OpenReplay has no error codes"):
        Fault("openreplay", "code", code=13)
    with pytest.raises(ValueError, match="delay"):
        Fault("posteketab", "slow")
    with pytest.raises(ValueError, match="times"):
        Fault("posteketab", "drop", times=0)


def test_fault_book_order_times_and_paths() -> None:
    book = FaultBook(threading.RLock())
    first = book.add(Fault("mobizon", "http", times=2, status=500, path="/mobizon/"))
    second = book.add(Fault("mobizon", "html"))
    assert book.take("openreplay", "/openreplay/v2/public/projects") is None
    assert book.take("mobizon", "/mobizon-alt/service/x") is second  # path filter skips the first
    assert book.take("mobizon", "/mobizon/service/x") is first
    assert book.take("mobizon", "/mobizon/service/x") is first
    assert (first.hits, first.remaining) == (2, 0)
    assert book.take("mobizon", "/mobizon/service/x") is None
    assert book.pending() == []


def test_request_log_counts() -> None:
    log = RequestLog(threading.RLock())
    log.add(RequestRecord("mobizon", "POST", "/mobizon/service/taskqueue/getstatus", 1.0, 200))
    log.add(RequestRecord("openreplay", "GET", "/openreplay/v2/public/simproject/jobs/1", 2.0, 200))
    log.add(RequestRecord("openreplay", "DELETE", "/openreplay/v2/public/simproject/jobs/1", 3.0, 400))
    assert log.count() == 3
    assert log.count("openreplay") == 2
    assert log.count("openreplay", method="delete") == 1
    assert log.count(path="/jobs/") == 2
    assert log.by_service() == {"posteketab": 0, "openreplay": 2, "mobizon": 1}
    log.clear()
    assert log.count() == 0


def test_package_and_plugin_import_without_aiohttp() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_tasks.simulator.pytest_plugin\n"
        "from airflow_provider_tasks.simulator import Step\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported eagerly'\n"
        "from airflow_provider_tasks.simulator import Simulator\n"
        "assert 'aiohttp' in sys.modules\n"
        "print(Simulator.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Simulator"

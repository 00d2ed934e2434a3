"""Quiet, useful logs (issue 10, item 7): Mobizon's code 30 under poke mode is one summary line, not a
warning per occurrence; configuration warnings come at execute, once, never at DAG parse; state changes
read as ``running (service: "in progress")`` pairs. (The extra-link noise of a task that failed early
is checked in a real DAG run: tests/test_dag_runs.py.)"""

from __future__ import annotations

import logging
import re

import pytest

from airflow_provider_tasks.sensors.mobizon import MobizonTaskSensor
from airflow_provider_tasks.sensors.posteketab import PostEKetabTaskSensor
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.testing import FakeTaskInstance

_LEVEL = re.compile(r"\[(debug|info|warning|error|critical)\s*\]")


class Lines:
    """What was logged, with levels: stdlib records (caplog) and Airflow 3's structlog lines (stdout)."""

    def __init__(self, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
        self.caplog = caplog
        self.capsys = capsys
        self.seen: list[tuple[str, str]] = []

    def read(self) -> list[tuple[str, str]]:
        out, err = self.capsys.readouterr()
        for line in (out + err).splitlines():
            match = _LEVEL.search(line)
            if match:
                self.seen.append((match.group(1), line))
        self.seen += [(record.levelname.lower(), record.getMessage()) for record in self.caplog.records]
        self.caplog.clear()
        return self.seen

    def at(self, *levels: str, containing: str) -> list[str]:
        return [line for level, line in self.read() if level in levels and containing in line]


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Lines:
    caplog.set_level(logging.DEBUG)
    return Lines(caplog, capsys)


def test_code_30_in_poke_mode_is_one_summary_line_not_a_warning(sim, lines):
    """Two Mobizon sensors of one key poke in the same second: the second gets code 30 and retries."""
    first = sim.mobizon.add_task(steps=[Step(1, progress=10)])
    second = sim.mobizon.add_task(steps=[Step(1, progress=20)])
    sensors = [
        MobizonTaskSensor(task_id=f"wait_{n}", mobizon_task_id=task_id, poke_interval=5)
        for n, task_id in enumerate((first, second))
    ]
    context = {"ti": FakeTaskInstance()}
    for sensor in sensors:
        assert not sensor.poke(context)
    assert sim.mobizon.rate_limited == 1
    assert lines.at("warning", "error", containing="code 30") == []
    summary = lines.at("info", containing="asked to slow down")
    assert len(summary) == 1, summary
    assert f"for id {second}" in summary[0] and "code 30, 1 time(s)" in summary[0]
    assert sim.count("mobizon", path="getstatus") == 3  # the refused call was retried (logged at debug)


def test_other_transient_failures_still_warn_each_retry(sim, lines):
    task_id = sim.mobizon.add_task(steps=[Step(2)])
    sim.add_fault("mobizon", "code", code=999, times=2)
    sim.mobizon.rate_limit = None
    sensor = MobizonTaskSensor(task_id="wait", mobizon_task_id=task_id)
    assert sensor.poke({"ti": FakeTaskInstance()})
    assert len(lines.at("warning", containing="code 999")) == 2
    assert lines.at("info", containing="asked to slow down") == []


def test_a_poke_interval_floor_warns_at_execute_once_not_at_parse(sim, lines):
    task_id = sim.mobizon.add_task(steps=[Step(1, polls=1), Step(2)])
    sim.mobizon.rate_limit = None
    sensor = MobizonTaskSensor(task_id="wait", mobizon_task_id=task_id, poke_interval=0.2)  # DAG parse
    assert lines.at("warning", containing="poke_interval") == []
    sensor.execute({"ti": FakeTaskInstance()})
    floor = lines.at("warning", containing="poke_interval")
    assert len(floor) == 1 and "the Mobizon minimum" in floor[0], floor


def test_state_changes_are_logged_as_normalized_and_service_pairs(sim, lines):
    task_id = sim.posteketab.add_task(steps=[Step(2, polls=1), Step(3)])
    PostEKetabTaskSensor(task_id="wait", posteketab_task_id=task_id, poke_interval=0.05).execute(
        {"ti": FakeTaskInstance()}
    )
    text = "\n".join(line for _, line in lines.read())
    assert 'running (Post-e-Ketab: task_status 2 "in progress")' in text
    assert 'succeeded (Post-e-Ketab: task_status 3 "finished")' in text

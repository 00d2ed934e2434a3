"""PostEKetabTaskResultOperator and PostEKetabListTasksOperator against the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from _helpers import run_to_end, run_trigger

from airflow_provider_tasks.exceptions import RemoteApiError, RemoteTaskFailed
from airflow_provider_tasks.operators.posteketab import (
    PostEKetabListTasksOperator,
    PostEKetabTaskResultOperator,
    local_file,
)
from airflow_provider_tasks.simulator import Step

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 2.11
    from airflow.exceptions import TaskDeferred

ROWS = [
    {
        "local_id": 4,
        "full_name": "A",
        "province": 12,
        "city": 561,
        "message": "شهر مورد نظر یافت نشد.",
        "is_success": False,
    },
    {"local_id": 5, "full_name": "B", "province": 15, "city": 561, "message": "ok", "is_success": True},
]


def op(task_id, **kwargs):
    return PostEKetabTaskResultOperator(task_id="result", posteketab_task_id=task_id, poll_interval=0.05, **kwargs)


def test_returns_rows_of_a_finished_task(sim, context):
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=ROWS)
    assert op(task_id).execute(context) == ROWS


def test_waits_in_blocking_mode(sim, context):
    task_id = sim.posteketab.add_task(steps=[Step(0, polls=1), Step(2, polls=2), Step(3)], task_result=ROWS)
    assert op(task_id, deferrable=False).execute(context) == ROWS
    assert sim.count("posteketab", path="task/detail") == 4


def test_waits_in_deferrable_mode(sim, context):
    task_id = sim.posteketab.add_task(steps=[Step(2, polls=2), Step(3)], task_result=ROWS)
    operator = op(task_id, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert any(key.startswith("_link_") for key in context["ti"].xcom), "link pushed before deferring"
    event = run_trigger(deferred.value.trigger)
    assert operator.execute_complete(context, event, **deferred.value.kwargs) == ROWS


def test_not_finished_without_waiting_is_code_369(sim, context):
    task_id = sim.posteketab.add_task(steps=[Step(2)])
    with pytest.raises(RemoteApiError) as info:
        op(task_id, wait_for_completion=False).execute(context)
    assert info.value.code == 369


@pytest.mark.parametrize("deferrable", [False, True])
def test_status_4_is_remote_task_failed(sim, context, deferrable):
    task_id = sim.posteketab.add_task(steps=[Step(2, polls=1), Step(4)], task_result=ROWS)
    operator = op(task_id, deferrable=deferrable)
    with pytest.raises(RemoteTaskFailed):
        run_to_end(operator, context)


def test_fail_on_row_errors_lists_the_failed_rows(sim, context):
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=ROWS)
    with pytest.raises(RemoteTaskFailed) as info:
        op(task_id, fail_on_row_errors=True).execute(context)
    assert "1 of 2 row(s) failed" in str(info.value) and "4: شهر مورد نظر یافت نشد." in str(info.value)


def test_is_success_as_string_is_understood(sim, context):
    rows = [{**ROWS[0], "is_success": "false"}, {**ROWS[1], "is_success": "true"}]
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=rows)
    with pytest.raises(RemoteTaskFailed, match="1 of 2"):
        op(task_id, fail_on_row_errors=True).execute(context)


def test_output_path_writes_json_lines_and_returns_a_summary(sim, context, tmp_path):
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=ROWS)
    target = tmp_path / "out" / "rows.jsonl"
    result = op(task_id, output_path=f"file://{target}").execute(context)
    assert result == {"path": f"file://{target}", "rows": 2, "failed_rows": 1}
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == ROWS


@pytest.mark.parametrize("form", ["plain path", "file URL, quoted", "file://localhost"])
def test_output_path_takes_local_paths_and_file_urls(sim, context, tmp_path, form):
    """Local files are written without ObjectStoragePath (Airflow 3.0's refuses every URL under upath 0.3)."""
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=ROWS)
    target = tmp_path / "a dir" / "rows.jsonl"
    value = {
        "plain path": str(target),
        "file URL, quoted": f"file://{quote(str(target))}",
        "file://localhost": f"file://localhost{target}",
    }[form]
    assert op(task_id, output_path=value).execute(context) == {"path": value, "rows": 2, "failed_rows": 1}
    assert [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()] == ROWS


def test_which_output_paths_are_local_files():
    assert local_file("/data/rows.jsonl") == Path("/data/rows.jsonl")
    assert local_file("relative/rows.jsonl") == Path("relative/rows.jsonl")
    assert local_file("file:///data/my%20rows.jsonl") == Path("/data/my rows.jsonl")
    assert local_file("FILE://localhost/data/rows.jsonl") == Path("/data/rows.jsonl")
    for remote in ("s3://bucket/rows.jsonl", "gs://b/k", "file://otherhost/data/rows.jsonl", "memory://b/k"):
        assert local_file(remote) is None


def test_output_path_to_object_storage(sim, context):
    """Any other URL goes through ObjectStoragePath (here fsspec's in-memory filesystem, attached for the test)."""
    from airflow.providers.common.compat.sdk import ObjectStoragePath
    from fsspec.implementations.memory import MemoryFileSystem

    try:
        from airflow.sdk.io import attach
    except ImportError:  # Airflow 2.11
        from airflow.io.store import attach
    attach("memory", fs=MemoryFileSystem())
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=ROWS)
    result = op(task_id, output_path="memory://provider-tasks-test/out/rows.jsonl").execute(context)
    assert result["rows"] == 2 and result["failed_rows"] == 1
    assert result["path"].startswith("memory://") and result["path"].endswith("provider-tasks-test/out/rows.jsonl")
    lines = ObjectStoragePath(result["path"]).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == ROWS


def test_output_path_is_written_before_row_errors_fail(sim, context, tmp_path):
    task_id = sim.posteketab.add_task(steps=[Step(3)], task_result=ROWS)
    target = tmp_path / "rows.jsonl"
    with pytest.raises(RemoteTaskFailed):
        op(task_id, output_path=f"file://{target}", fail_on_row_errors=True).execute(context)
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2


def test_timeout_in_blocking_mode(sim, context):
    from airflow.providers.common.compat.sdk import AirflowTaskTimeout

    task_id = sim.posteketab.add_task(steps=[Step(2)])
    with pytest.raises(AirflowTaskTimeout):
        op(task_id, timeout=0.3).execute(context)


def test_templated_fields_and_bad_ids():
    assert "posteketab_task_id" in PostEKetabTaskResultOperator.template_fields
    for bad in (None, "", "  "):
        with pytest.raises(ValueError, match="posteketab_task_id"):
            op(bad)


def test_list_tasks_filters_every_page(sim, context):
    made = {
        (task_type, status): sim.posteketab.add_task(task_type=task_type, steps=[Step(status)])
        for task_type in (0, 2)
        for status in (2, 3, 4)
    }
    operator = PostEKetabListTasksOperator(
        task_id="ls", posteketab_task_type=0, posteketab_task_status=[3, 4], page_size=2
    )
    result = operator.execute(context)
    assert {task["id"] for task in result} == {made[(0, 3)], made[(0, 4)]}
    assert sim.count("posteketab", path="task/list") == 3  # 6 tasks in pages of 2: total_count ends it
    everything = PostEKetabListTasksOperator(task_id="all").execute(context)
    assert len(everything) == 6
    json.dumps(everything)  # XCom-ready


@pytest.mark.parametrize("bad", ["x", [1, "x"], True, [], 1.5, "[1,"])
def test_list_filters_are_checked(bad):
    with pytest.raises(ValueError, match="posteketab_task_type"):
        PostEKetabListTasksOperator(task_id="ls", posteketab_task_type=bad)


@pytest.mark.parametrize("deferrable", [False, True])
def test_output_path_streams_a_big_result_in_every_mode(sim, context, tmp_path, deferrable):
    rows = [
        {"local_id": n, "full_name": "علی رضایی", "province": 8, "city": 1, "message": "ok", "is_success": n % 10 != 0}
        for n in range(30_000)  # some 3 MB of JSON: spooled to disk, never parsed whole
    ]
    task_id = sim.posteketab.add_task(steps=[Step(2, polls=2), Step(3)], task_result=rows)
    target = tmp_path / "rows.jsonl"
    operator = op(task_id, output_path=f"file://{target}", deferrable=deferrable)
    try:
        result = operator.execute(context)
    except TaskDeferred as deferred:
        event = run_trigger(deferred.trigger)
        assert "task_result" not in event["remote"]  # the rows never travel inside the event
        result = operator.execute_complete(context, event, **deferred.kwargs)
    assert result == {"path": f"file://{target}", "rows": 30_000, "failed_rows": 3_000}
    with target.open(encoding="utf-8") as lines:
        assert [json.loads(line) for line in lines] == rows

"""Post-e-Ketab over real HTTP: envelope, codes, timelines, timestamps, list."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.simulator.server import Simulator

from .conftest import PostEKetab

OK_MESSAGE = "عملیات با موفقیت انجام شد."
NAIVE_ISO_MICROS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}")


def test_detail_success_shape(simulator: Simulator, posteketab: PostEKetab) -> None:
    task_id = simulator.posteketab.add_task(steps=[Step(3)])
    response = posteketab.detail(task_id)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["returns"] == {"status": 200, "message": OK_MESSAGE}
    entries = body["entries"]
    assert set(entries) == {
        "id",
        "task_type",
        "task_status",
        "created_at",
        "started_at",
        "ended_at",
        "has_downloadable_file",
        "task_result",
    }
    assert entries["id"] == task_id
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", task_id)
    assert (entries["task_type"], entries["task_status"], entries["has_downloadable_file"]) == (0, 3, False)
    assert len(entries["task_result"]) == 3
    assert set(entries["task_result"][0]) == {"local_id", "full_name", "province", "city", "message", "is_success"}
    assert isinstance(entries["task_result"][0]["local_id"], int)
    assert isinstance(entries["task_result"][0]["province"], int)


def test_default_timeline_and_timestamps(simulator: Simulator, posteketab: PostEKetab) -> None:
    task_id = simulator.posteketab.add_task()
    first, second, third, fourth = (posteketab.detail(task_id).json()["entries"] for _ in range(4))
    assert [e["task_status"] for e in (first, second, third, fourth)] == [0, 2, 3, 3]
    assert first["started_at"] is None and first["ended_at"] is None and first["task_result"] == []
    assert NAIVE_ISO_MICROS.fullmatch(second["started_at"]) and second["ended_at"] is None
    assert second["task_result"] == []  # rows appear once the task has ended
    assert NAIVE_ISO_MICROS.fullmatch(third["ended_at"])
    assert third["created_at"] <= third["started_at"] <= third["ended_at"]
    assert third["started_at"] == second["started_at"]
    assert fourth == third  # terminal and sticky: nothing moves any more
    # naive local time of Asia/Tehran (+03:30 all year)
    created = datetime.fromisoformat(third["created_at"]).replace(tzinfo=timezone(timedelta(hours=3, minutes=30)))
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60


@pytest.mark.parametrize(
    ("task_type", "row_keys", "id_type"),
    [(1, {"id", "full_name", "province", "city", "message", "is_success"}, str), (4, None, str)],
)
def test_row_shapes_of_types_1_and_4(
    simulator: Simulator, posteketab: PostEKetab, task_type: int, row_keys: set[str] | None, id_type: type
) -> None:
    task_id = simulator.posteketab.add_task(task_type=task_type, steps=[Step(3)])
    rows = posteketab.detail(task_id).json()["entries"]["task_result"]
    assert len(rows) == 3
    assert isinstance(rows[0]["id"], id_type) and isinstance(rows[0]["province"], str)
    if row_keys:
        assert set(rows[0]) == row_keys


@pytest.mark.parametrize("task_type", [2, 3])
def test_export_tasks_have_no_rows_but_a_file(simulator: Simulator, posteketab: PostEKetab, task_type: int) -> None:
    task_id = simulator.posteketab.add_task(task_type=task_type, steps=[Step(3)])
    entries = posteketab.detail(task_id).json()["entries"]
    assert entries["task_result"] == []
    assert entries["has_downloadable_file"] is True


def test_custom_id_rows_created_at_and_failure(simulator: Simulator, posteketab: PostEKetab) -> None:
    rows: list[dict[str, Any]] = [
        {"local_id": 7, "full_name": "x", "province": 1, "city": 2, "message": "bad", "is_success": False}
    ]
    created = datetime(2024, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
    simulator.posteketab.add_task(
        "a432b493-d961-3bfs-38m4-gd5z62h0043e", steps=[Step(4)], task_result=rows, created_at=created
    )
    entries = posteketab.detail("a432b493-d961-3bfs-38m4-gd5z62h0043e").json()["entries"]
    assert entries["task_status"] == 4
    assert entries["task_result"] == rows
    assert entries["created_at"] == "2024-03-01T13:00:00.123456"  # 09:30 UTC in Tehran
    assert entries["started_at"] is not None and entries["ended_at"] is not None


def test_duplicate_id_is_refused(simulator: Simulator) -> None:
    simulator.posteketab.add_task("same")
    with pytest.raises(ValueError, match="already exists"):
        simulator.posteketab.add_task("same")


def test_time_based_steps(simulator: Simulator, posteketab: PostEKetab) -> None:
    task_id = simulator.posteketab.add_task(steps=[Step(1, seconds=0.3), Step(2, seconds=0.3), Step(3)])
    assert posteketab.status(task_id) == 1
    time.sleep(0.35)
    assert posteketab.status(task_id) == 2
    time.sleep(0.3)
    assert posteketab.status(task_id) == 3


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_bad_token_is_code_332(simulator: Simulator, posteketab: PostEKetab, token: str) -> None:
    task_id = simulator.posteketab.add_task()
    body = posteketab.detail(task_id, token=token).json()
    assert body["returns"]["status"] == 332
    assert body["entries"] is None
    assert posteketab.list(token=token).json()["returns"]["status"] == 332
    assert simulator.posteketab.current_status(task_id) == 0  # refused calls do not poll


def test_missing_header_is_code_332(simulator: Simulator, http: requests.Session) -> None:
    response = http.post(f"{simulator.posteketab_url}/task/detail/", json={"task_id": "x"})
    assert response.status_code == 200
    assert response.json()["returns"]["status"] == 332


def test_unknown_task_is_362_with_persian_message(posteketab: PostEKetab) -> None:
    response = posteketab.detail("no-such-task")
    assert response.status_code == 200
    returns = response.json()["returns"]
    assert returns["status"] == 362
    assert re.search(r"[\u0600-\u06FF]", returns["message"])


@pytest.mark.parametrize("task_id", [None, "", "   ", 12])
def test_missing_or_empty_task_id_is_300(posteketab: PostEKetab, task_id: Any) -> None:
    assert posteketab.detail(task_id).json()["returns"]["status"] == 300


def test_non_json_body_is_300(simulator: Simulator, posteketab: PostEKetab, http: requests.Session) -> None:
    response = http.post(
        f"{simulator.posteketab_url}/task/detail/", data=b"task_id=1", headers=posteketab.headers(None)
    )
    assert response.json()["returns"]["status"] == 300


def test_error_http_status_is_configurable(http: requests.Session) -> None:
    with Simulator(posteketab_error_http_status=400) as sim:
        response = PostEKetab(sim, http).detail("missing")
        assert response.status_code == 400
        assert response.json()["returns"]["status"] == 362
        sim.posteketab.add_task("t", steps=[Step(3)])
        assert PostEKetab(sim, http).detail("t").status_code == 200


def test_routes_need_the_trailing_slash(simulator: Simulator, posteketab: PostEKetab, http: requests.Session) -> None:
    response = http.post(
        f"{simulator.posteketab_url}/task/detail", json={"task_id": "x"}, headers=posteketab.headers(None)
    )
    assert response.status_code == 404


def test_list_shape_order_and_pages(simulator: Simulator, posteketab: PostEKetab) -> None:
    ids = [simulator.posteketab.add_task(task_type=i % 5) for i in range(5)]
    body = posteketab.list(count=2, page=1).json()
    assert body["returns"]["status"] == 200
    entries = body["entries"]
    assert (entries["count"], entries["page"], entries["total_count"]) == (2, 1, 5)
    assert [item["id"] for item in entries["list"]] == [ids[4], ids[3]]  # newest first
    assert set(entries["list"][0]) == {"id", "task_type", "task_status", "created_at"}
    assert entries["list"][0]["task_type"] == 4
    assert [item["id"] for item in posteketab.list(count=2, page=3).json()["entries"]["list"]] == [ids[0]]
    assert posteketab.list(count=2, page=4).json()["entries"]["list"] == []


def test_list_orders_by_created_at(simulator: Simulator, posteketab: PostEKetab) -> None:
    old = simulator.posteketab.add_task("old", created_at=datetime(2020, 1, 1, tzinfo=UTC))
    new = simulator.posteketab.add_task("new")
    older = simulator.posteketab.add_task("older", created_at=datetime(2019, 1, 1, tzinfo=UTC))
    assert [i["id"] for i in posteketab.list().json()["entries"]["list"]] == [new, old, older]


@pytest.mark.parametrize("body", [{"count": 0, "page": 1}, {"count": 10, "page": 0}, {"count": "10", "page": 1}])
def test_list_bad_paging_is_300(
    simulator: Simulator, posteketab: PostEKetab, http: requests.Session, body: dict[str, Any]
) -> None:
    response = http.post(f"{simulator.posteketab_url}/task/list/", json=body, headers=posteketab.headers(None))
    assert response.json()["returns"]["status"] == 300


def test_list_does_not_advance_polls_but_shows_time_steps(simulator: Simulator, posteketab: PostEKetab) -> None:
    by_polls = simulator.posteketab.add_task("by-polls", steps=[Step(0, polls=1), Step(3)])
    by_time = simulator.posteketab.add_task("by-time", steps=[Step(0, seconds=0.4), Step(2)])
    for _ in range(3):
        statuses = {i["id"]: i["task_status"] for i in posteketab.list().json()["entries"]["list"]}
        assert statuses[by_polls] == 0
    time.sleep(0.45)
    statuses = {i["id"]: i["task_status"] for i in posteketab.list().json()["entries"]["list"]}
    assert statuses == {by_polls: 0, by_time: 2}
    assert posteketab.status(by_polls) == 0  # the first detail read is the first poll
    assert posteketab.status(by_polls) == 3

"""OpenReplay over real HTTP: auth, jobs list paging, get, cancel rules, delete-user-data."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.simulator.server import Simulator

from .conftest import OpenReplay

JOB_KEYS = {
    "jobId",
    "projectId",
    "description",
    "status",
    "action",
    "referenceId",
    "createdAt",
    "updatedAt",
    "startAt",
    "errors",
}


def _next_midnight_ms(epoch_ms: int) -> int:
    day = datetime.fromtimestamp(epoch_ms / 1000, UTC).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return int(midnight + 86400) * 1000


def test_projects(openreplay: OpenReplay) -> None:
    response = openreplay.call("GET", "projects")
    assert response.status_code == 200
    projects = response.json()["data"]
    assert [p["projectKey"] for p in projects] == ["simproject"]
    assert projects[0]["name"]
    one = openreplay.call("GET", "projects/simproject").json()["data"]
    assert one["projectKey"] == "simproject"
    other = openreplay.call("GET", "projects/other")
    assert (other.status_code, other.content) == (401, b"")


@pytest.mark.parametrize(
    ("route", "method"),
    [
        ("projects", "GET"),
        ("simproject/jobs", "GET"),
        ("simproject/jobs/1000", "GET"),
        ("simproject/jobs/1000", "DELETE"),
        ("simproject/users/u1", "DELETE"),
    ],
)
def test_bad_key_is_401_with_empty_body(simulator: Simulator, openreplay: OpenReplay, route: str, method: str) -> None:
    job_id = simulator.openreplay.add_job()
    for response in (
        openreplay.call(method, route, key="wrong"),
        requests.request(method, f"{simulator.openreplay_url}/public/{route}"),  # no header at all
        requests.request(  # the key without the Bearer scheme
            method,
            f"{simulator.openreplay_url}/public/{route}",
            headers={"Authorization": simulator.openreplay_api_key},
        ),
    ):
        assert response.status_code == 401
        assert response.content == b""
    assert simulator.openreplay.current_status(job_id) == "scheduled"
    assert len(simulator.openreplay) == 1  # the refused DELETE created nothing


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("GET", "otherproject/jobs"),
        ("GET", "otherproject/jobs/1000"),
        ("DELETE", "otherproject/jobs/1000"),
        ("DELETE", "otherproject/users/u1"),
        ("GET", "projects/otherproject"),
    ],
)
def test_project_of_another_tenant_is_401_with_empty_body(openreplay: OpenReplay, method: str, route: str) -> None:
    response = openreplay.call(method, route)
    assert response.status_code == 401
    assert response.content == b""


def test_job_shape_and_timeline(simulator: Simulator, openreplay: OpenReplay) -> None:
    before = int(time.time() * 1000)
    job_id = simulator.openreplay.add_job(user_id="alice@example.com")
    assert job_id == 1000
    response = openreplay.job(job_id)
    assert response.status_code == 200
    job = response.json()["data"]
    assert set(job) == JOB_KEYS
    assert job["jobId"] == 1000 and isinstance(job["projectId"], int)
    assert job["status"] == "scheduled"
    assert job["action"] == "delete_user_data"
    assert job["referenceId"] == "alice@example.com"
    assert job["description"] == "Delete user sessions of userId = alice@example.com"
    assert before <= job["createdAt"] <= int(time.time() * 1000)
    assert job["updatedAt"] is None and job["errors"] is None
    assert job["startAt"] == _next_midnight_ms(job["createdAt"])
    assert openreplay.status(job_id) == "running"
    third = openreplay.job(job_id).json()["data"]
    assert third["status"] == "completed"
    assert third["updatedAt"] >= third["createdAt"]
    assert openreplay.status(job_id) == "completed"


def test_failed_job_carries_errors(simulator: Simulator, openreplay: OpenReplay) -> None:
    job_id = simulator.openreplay.add_job(steps=[Step("running", polls=1), Step("failed")], errors="disk full")
    assert openreplay.job(job_id).json()["data"]["errors"] is None
    job = openreplay.job(job_id).json()["data"]
    assert (job["status"], job["errors"]) == ("failed", "disk full")
    default = simulator.openreplay.add_job(steps=[Step("failed")])
    assert openreplay.job(default).json()["data"]["errors"]


def test_time_based_job(simulator: Simulator, openreplay: OpenReplay) -> None:
    job_id = simulator.openreplay.add_job(steps=[Step("scheduled", seconds=0.3), Step("completed")])
    assert openreplay.status(job_id) == "scheduled"
    time.sleep(0.35)
    assert openreplay.status(job_id) == "completed"


@pytest.mark.parametrize("bad", ["abc", "1.5", "1e3"])
def test_non_integer_job_id_is_400(openreplay: OpenReplay, bad: str) -> None:
    response = openreplay.job(bad)
    assert response.status_code == 400
    assert response.json()["error"]


def test_missing_job_is_404(simulator: Simulator, openreplay: OpenReplay) -> None:
    response = openreplay.job(999999)
    assert response.status_code == 404
    assert response.json() == {"error": "job not found"}
    assert openreplay.cancel(999999).status_code == 404
    other = simulator.openreplay.add_job(project_key="someone-else")
    assert openreplay.job(other).status_code == 404  # jobs of other projects are not visible


def test_list_newest_first_and_pages(simulator: Simulator, openreplay: OpenReplay) -> None:
    ids = [simulator.openreplay.add_job(user_id=f"u{i}") for i in range(7)]
    response = openreplay.jobs(limit=3, page=1)
    assert response.status_code == 200
    data = response.json()["data"]
    assert isinstance(data, list)  # a bare array, no total
    assert [job["jobId"] for job in data] == ids[::-1][:3]
    assert [job["jobId"] for job in openreplay.jobs(limit=3, page=3).json()["data"]] == [ids[0]]
    assert openreplay.jobs(limit=3, page=4).json()["data"] == []


@pytest.mark.parametrize(
    ("params", "expected_len", "expected_first"),
    [
        ({}, 50, 1059),
        ({"limit": 0}, 50, 1059),
        ({"limit": 201}, 50, 1059),
        ({"limit": -5}, 50, 1059),
        ({"limit": "abc"}, 50, 1059),
        ({"limit": 200}, 60, 1059),
        ({"limit": 1}, 1, 1059),
        ({"limit": 10, "page": 0}, 10, 1059),
        ({"limit": 10, "page": -3}, 10, 1059),
        ({"limit": 10, "page": "x"}, 10, 1059),
        ({"limit": 10, "page": 2}, 10, 1049),
        ({"limit": 50, "page": 2}, 10, 1009),
    ],
)
def test_list_fallbacks(
    simulator: Simulator, openreplay: OpenReplay, params: dict[str, object], expected_len: int, expected_first: int
) -> None:
    for i in range(60):
        simulator.openreplay.add_job(user_id=f"user-{i}")
    data = openreplay.jobs(**params).json()["data"]
    assert len(data) == expected_len
    assert data[0]["jobId"] == expected_first


def test_list_does_not_advance_polls(simulator: Simulator, openreplay: OpenReplay) -> None:
    job_id = simulator.openreplay.add_job()
    for _ in range(3):
        assert openreplay.jobs().json()["data"][0]["status"] == "scheduled"
    assert openreplay.status(job_id) == "scheduled"
    assert openreplay.status(job_id) == "running"


@pytest.mark.parametrize("status", ["scheduled", "running", "failed"])
def test_cancel_active_or_failed_job(simulator: Simulator, openreplay: OpenReplay, status: str) -> None:
    job_id = simulator.openreplay.add_job(steps=[Step(status)], errors="boom" if status == "failed" else None)
    response = openreplay.cancel(job_id)
    assert response.status_code == 200
    job = response.json()["data"]
    assert job["status"] == "cancelled"  # a failed job is overwritten, as the real server does
    assert job["updatedAt"] is not None
    assert job["errors"] == ("boom" if status == "failed" else None)
    assert openreplay.status(job_id) == "cancelled"
    second = openreplay.cancel(job_id)
    assert second.status_code == 400
    assert second.json() == {"error": "the requested job has already been cancelled"}


def test_cancel_completed_job_is_400(simulator: Simulator, openreplay: OpenReplay) -> None:
    job_id = simulator.openreplay.add_job(steps=[Step("completed")])
    response = openreplay.cancel(job_id)
    assert response.status_code == 400
    assert response.json() == {"error": "the requested job has already been completed"}
    assert openreplay.status(job_id) == "completed"


def test_cancel_non_integer_is_400(openreplay: OpenReplay) -> None:
    assert openreplay.cancel("x").status_code == 400


def test_delete_user_data_creates_a_scheduled_job(simulator: Simulator, openreplay: OpenReplay) -> None:
    response = openreplay.delete_user("bob@example.com")
    assert response.status_code == 200
    job = response.json()["data"]
    assert set(job) == JOB_KEYS
    assert (job["jobId"], job["status"], job["referenceId"]) == (1000, "scheduled", "bob@example.com")
    assert job["description"] == "Delete user sessions of userId = bob@example.com"
    assert job["startAt"] == _next_midnight_ms(job["createdAt"])
    assert job["startAt"] % 86_400_000 == 0
    # default new_job_steps: scheduled (1 poll) -> running (1 poll) -> completed
    assert [openreplay.status(1000) for _ in range(3)] == ["scheduled", "running", "completed"]
    assert openreplay.delete_user("bob@example.com").json()["data"]["jobId"] == 1001  # nothing active any more


def test_duplicate_deletion_is_409(simulator: Simulator, openreplay: OpenReplay) -> None:
    first = openreplay.delete_user("carol")
    assert first.status_code == 200
    second = openreplay.delete_user("carol")
    assert second.status_code == 409
    assert second.json() == {"error": "a deletion job for this user is already scheduled or running"}
    assert openreplay.delete_user("dave").status_code == 200  # another user is fine
    openreplay.status(first.json()["data"]["jobId"])  # scheduled -> running
    assert openreplay.delete_user("carol").status_code == 409
    assert openreplay.cancel(first.json()["data"]["jobId"]).status_code == 200
    assert openreplay.delete_user("carol").status_code == 200
    assert len(simulator.openreplay) == 3


def test_other_project_job_does_not_block_deletion(simulator: Simulator, openreplay: OpenReplay) -> None:
    simulator.openreplay.add_job(user_id="erin", project_key="elsewhere")
    assert openreplay.delete_user("erin").status_code == 200


@pytest.mark.parametrize("user_id", ["", "x" * 257])
def test_bad_user_id_is_400(simulator: Simulator, openreplay: OpenReplay, user_id: str) -> None:
    response = openreplay.delete_user(user_id)
    assert response.status_code == 400
    assert "userID" in response.json()["error"]
    assert len(simulator.openreplay) == 0


def test_user_id_of_256_chars_is_fine(openreplay: OpenReplay) -> None:
    assert openreplay.delete_user("y" * 256).status_code == 200


def test_new_job_steps(simulator: Simulator, openreplay: OpenReplay) -> None:
    simulator.openreplay.new_job_steps = [Step("scheduled", polls=2), Step("failed")]
    job_id = openreplay.delete_user("frank").json()["data"]["jobId"]
    assert [openreplay.status(job_id) for _ in range(3)] == ["scheduled", "scheduled", "failed"]

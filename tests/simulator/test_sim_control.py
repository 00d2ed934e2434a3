"""The /_sim control API, driven over HTTP as a demo script would."""

from __future__ import annotations

import requests

from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.simulator.server import Simulator

from .conftest import Mobizon, OpenReplay, PostEKetab


def _sim(simulator: Simulator, method: str, route: str, body: object = None) -> requests.Response:
    return requests.request(method, f"{simulator.url}/_sim/{route}", json=body)


def test_add_items_over_http(
    simulator: Simulator, posteketab: PostEKetab, openreplay: OpenReplay, mobizon: Mobizon
) -> None:
    response = _sim(
        simulator,
        "POST",
        "posteketab/tasks",
        {"task_id": "ctl-1", "task_type": 2, "steps": [{"status": 2, "polls": 1}, {"status": 3}]},
    )
    assert (response.status_code, response.json()) == (200, {"id": "ctl-1"})
    assert [posteketab.status("ctl-1") for _ in range(2)] == [2, 3]
    generated = _sim(simulator, "POST", "posteketab/tasks", {}).json()["id"]
    assert simulator.posteketab.current_status(generated) == 0

    job = _sim(
        simulator, "POST", "openreplay/jobs", {"user_id": "ctl@example.com", "steps": [{"status": "running"}]}
    ).json()
    assert job == {"id": 1000}
    assert openreplay.job(1000).json()["data"]["referenceId"] == "ctl@example.com"

    task = _sim(simulator, "POST", "mobizon/tasks", {"steps": [{"status": 1, "progress": 33}]}).json()
    assert task == {"id": 5000}
    assert mobizon.get_status(5000)["data"] == {"progress": "33", "status": "1"}
    assert _sim(simulator, "POST", "mobizon/tasks", {"task_id": 7777}).json() == {"id": 7777}


def test_new_job_steps_over_http(simulator: Simulator, openreplay: OpenReplay) -> None:
    assert _sim(simulator, "PUT", "openreplay/new_job_steps", {"steps": [{"status": "completed"}]}).status_code == 200
    assert simulator.openreplay.new_job_steps == [Step("completed")]
    assert openreplay.delete_user("u").json()["data"]["status"] == "completed"
    assert _sim(simulator, "PUT", "openreplay/new_job_steps", {"steps": []}).status_code == 400


def test_status_over_http(simulator: Simulator, mobizon: Mobizon) -> None:
    task_id = simulator.mobizon.add_task()
    response = _sim(simulator, "POST", "status", {"service": "mobizon", "id": task_id, "status": 3, "progress": 10})
    assert response.status_code == 200
    assert ("mobizon", str(task_id)) in simulator.status_changed_at
    assert mobizon.get_status(task_id)["data"] == {"progress": "10", "status": "3"}
    assert _sim(simulator, "POST", "status", {"service": "mobizon", "id": 1, "status": 3}).status_code == 404
    assert _sim(simulator, "POST", "status", {"service": "mobizon", "id": task_id}).status_code == 400
    assert _sim(simulator, "POST", "status", {"service": "tapin", "id": 1, "status": 3}).status_code == 400


def test_faults_over_http(simulator: Simulator, openreplay: OpenReplay) -> None:
    response = _sim(
        simulator, "POST", "faults", {"service": "openreplay", "kind": "rate_limit", "retry_after": "7", "times": 2}
    )
    assert response.status_code == 200
    assert response.json()["kind"] == "rate_limit" and response.json()["times"] == 2
    first = openreplay.call("GET", "projects")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
    assert _sim(simulator, "DELETE", "faults").status_code == 200
    assert openreplay.call("GET", "projects").status_code == 200
    bad = _sim(simulator, "POST", "faults", {"service": "openreplay", "kind": "code", "code": 1})
    assert bad.status_code == 400 and "OpenReplay" in bad.json()["error"]
    assert (
        _sim(simulator, "POST", "faults", {"service": "mobizon", "kind": "http", "status": 500, "x": 1}).status_code
        == 400
    )
    assert _sim(simulator, "POST", "faults", {"kind": "http"}).status_code == 400


def test_counters_requests_and_reset_over_http(simulator: Simulator, posteketab: PostEKetab) -> None:
    simulator.posteketab.add_task("t")
    posteketab.detail("t")
    posteketab.detail("t")
    counters = _sim(simulator, "GET", "counters").json()
    assert counters == {
        "total": 2,
        "by_service": {"posteketab": 2, "openreplay": 0, "mobizon": 0},
        "mobizon_rate_limited": 0,
    }
    records = _sim(simulator, "GET", "requests").json()
    assert [(r["service"], r["method"], r["status"]) for r in records] == [("posteketab", "POST", 200)] * 2
    assert _sim(simulator, "POST", "reset").json() == {"ok": True}
    assert _sim(simulator, "GET", "counters").json()["total"] == 0
    assert len(simulator.posteketab) == 0


def test_bad_bodies_are_400(simulator: Simulator) -> None:
    assert requests.post(f"{simulator.url}/_sim/posteketab/tasks", data=b"{nope").status_code == 400
    assert _sim(simulator, "POST", "posteketab/tasks", [1, 2]).status_code == 400
    assert _sim(simulator, "POST", "posteketab/tasks", {"steps": [{"status": "3"}]}).status_code == 400
    assert _sim(simulator, "POST", "mobizon/tasks", {"task_id": -1}).status_code == 400
    assert _sim(simulator, "POST", "openreplay/jobs", {"jobId": 5}).status_code == 400
    simulator.posteketab.add_task("dup")
    assert _sim(simulator, "POST", "posteketab/tasks", {"task_id": "dup"}).status_code == 400

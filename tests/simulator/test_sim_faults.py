"""Every fault kind, as a client sees it, plus times/path matching and counting."""

from __future__ import annotations

import json
import time

import pytest
import requests

from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.simulator.server import Simulator

from .conftest import Mobizon, OpenReplay, PostEKetab


def test_http_fault_per_service(
    simulator: Simulator, posteketab: PostEKetab, openreplay: OpenReplay, mobizon: Mobizon
) -> None:
    task_id = simulator.posteketab.add_task()
    simulator.add_fault("posteketab", "http", status=500)
    response = posteketab.detail(task_id)
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "500" in response.text
    assert posteketab.detail(task_id).status_code == 200  # times=1: used up

    simulator.add_fault("posteketab", "http", status=403)
    response = posteketab.detail(task_id)
    assert (response.status_code, response.json()) == (403, {"detail": "Forbidden"})

    simulator.add_fault("openreplay", "http", status=503)
    response = openreplay.call("GET", "projects")
    assert (response.status_code, response.json()) == (503, {"error": "service unavailable"})
    simulator.add_fault("openreplay", "http", status=401)
    response = openreplay.call("GET", "projects")
    assert (response.status_code, response.content) == (401, b"")

    simulator.add_fault("mobizon", "http", status=502)
    response = mobizon.call(data={"id": 1})
    assert response.status_code == 502 and "Bad Gateway" in response.text


def test_faults_apply_before_handling(simulator: Simulator, posteketab: PostEKetab) -> None:
    task_id = simulator.posteketab.add_task()
    simulator.add_fault("posteketab", "http", status=502, times=3)
    assert [posteketab.detail(task_id).status_code for _ in range(4)] == [502, 502, 502, 200]
    assert simulator.posteketab.current_status(task_id) == 2  # only the answered read polled


@pytest.mark.parametrize("retry_after", ["2", "Wed, 21 Oct 2015 07:28:00 GMT", None])
def test_rate_limit_fault(simulator: Simulator, openreplay: OpenReplay, retry_after: str | None) -> None:
    simulator.add_fault("openreplay", "rate_limit", retry_after=retry_after)
    response = openreplay.call("GET", "projects")
    assert response.status_code == 429
    assert response.headers.get("Retry-After") == retry_after


def test_code_fault_posteketab(simulator: Simulator, posteketab: PostEKetab) -> None:
    task_id = simulator.posteketab.add_task()
    simulator.add_fault("posteketab", "code", code=369, path="task/detail")
    response = posteketab.detail(task_id)
    assert response.status_code == 200
    body = response.json()
    assert body["returns"]["status"] == 369 and body["entries"] is None
    assert body["returns"]["message"]
    simulator.add_fault("posteketab", "code", code=301)
    assert posteketab.list().json()["returns"]["status"] == 301


def test_code_fault_posteketab_uses_the_error_http_status(http: requests.Session) -> None:
    with Simulator(posteketab_error_http_status=500) as sim:
        sim.add_fault("posteketab", "code", code=350)
        response = PostEKetab(sim, http).list()
        assert response.status_code == 500 and response.json()["returns"]["status"] == 350


def test_code_13_names_the_alt_server(simulator: Simulator, mobizon: Mobizon) -> None:
    task_id = simulator.mobizon.add_task()
    simulator.add_fault("mobizon", "code", code=13, path="/mobizon/")
    body = mobizon.get_status(task_id)
    assert body["code"] == 13
    assert body["data"] == simulator.mobizon_alt_url
    follow = mobizon.get_status(task_id, base=body["data"])
    assert follow["code"] == 0 and follow["data"]["status"] == "0"


def test_code_30_fault(simulator: Simulator, mobizon: Mobizon) -> None:
    simulator.add_fault("mobizon", "code", code=30, times=2)
    assert [mobizon.get_status(1)["code"] for _ in range(3)] == [30, 30, 2]
    assert simulator.mobizon.rate_limited == 0  # only the limiter's refusals count there


def test_slow_fault(simulator: Simulator, openreplay: OpenReplay) -> None:
    job_id = simulator.openreplay.add_job()
    simulator.add_fault("openreplay", "slow", delay=0.3)
    started = time.monotonic()
    response = openreplay.job(job_id)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and response.json()["data"]["status"] == "scheduled"
    with pytest.raises(requests.Timeout):
        simulator.add_fault("openreplay", "slow", delay=1.0)
        requests.get(f"{simulator.openreplay_url}/public/projects", timeout=0.2)


def test_drop_fault(simulator: Simulator, posteketab: PostEKetab) -> None:
    task_id = simulator.posteketab.add_task()
    simulator.add_fault("posteketab", "drop")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        posteketab.detail(task_id)
    assert simulator.posteketab.current_status(task_id) == 0  # not processed
    assert posteketab.detail(task_id).status_code == 200
    assert [record.status for record in simulator.requests] == [0, 200]


def test_reset_fault(simulator: Simulator, mobizon: Mobizon) -> None:
    simulator.add_fault("mobizon", "reset")
    with pytest.raises(requests.ConnectionError):
        mobizon.get_status(1)
    assert mobizon.get_status(1)["code"] == 2


def test_html_fault(simulator: Simulator, openreplay: OpenReplay, posteketab: PostEKetab) -> None:
    simulator.add_fault("openreplay", "html")
    response = openreplay.call("GET", "projects")
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html>" in response.text and "502 Bad Gateway" in response.text
    simulator.add_fault("posteketab", "html", status=504)
    assert posteketab.list().status_code == 504


def test_truncated_json_fault(simulator: Simulator, mobizon: Mobizon) -> None:
    task_id = simulator.mobizon.add_task()
    simulator.add_fault("mobizon", "truncated_json")
    response = mobizon.call(data={"id": task_id})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.text.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    # the server did process the call: the next read sees the next step
    assert mobizon.get_status(task_id)["data"]["status"] == "1"


def test_empty_401_fault(simulator: Simulator, posteketab: PostEKetab) -> None:
    simulator.add_fault("posteketab", "empty_401")
    response = posteketab.list()
    assert (response.status_code, response.content) == (401, b"")


def test_path_filter_and_other_services(simulator: Simulator, posteketab: PostEKetab, mobizon: Mobizon) -> None:
    task_id = simulator.posteketab.add_task()
    simulator.add_fault("posteketab", "http", status=500, path="task/list")
    assert mobizon.get_status(1)["code"] == 2  # another service is untouched
    assert posteketab.detail(task_id).status_code == 200  # another path is untouched
    assert posteketab.list().status_code == 500
    assert simulator.faults == []


def test_clear_faults(simulator: Simulator, mobizon: Mobizon) -> None:
    fault = simulator.add_fault("mobizon", "http", status=500, times=5)
    assert mobizon.call(data={"id": 1}).status_code == 500
    assert (fault.hits, fault.remaining) == (1, 4)
    assert simulator.faults == [fault]
    simulator.clear_faults()
    assert mobizon.call(data={"id": 1}).status_code == 200


def test_faulted_requests_are_counted(simulator: Simulator, posteketab: PostEKetab) -> None:
    simulator.add_fault("posteketab", "http", status=503, times=2)
    for _ in range(3):
        posteketab.list()
    assert simulator.count("posteketab") == 3
    assert [r.status for r in simulator.requests] == [503, 503, 200]


def test_invalid_faults_are_refused(simulator: Simulator) -> None:
    with pytest.raises(ValueError):
        simulator.add_fault("openreplay", "code", code=13)
    with pytest.raises(ValueError):
        simulator.add_fault("nope", "http", status=500)
    with pytest.raises(ValueError):
        simulator.add_fault("mobizon", "http")


def test_mobizon_faults_hit_both_servers_unless_filtered(simulator: Simulator, mobizon: Mobizon) -> None:
    simulator.add_fault("mobizon", "http", status=500, times=2)
    assert mobizon.call(data={"id": 1}).status_code == 500
    assert mobizon.call(data={"id": 1}, base=simulator.mobizon_alt_url).status_code == 500
    task = simulator.mobizon.add_task(steps=[Step(2)])
    assert mobizon.get_status(task)["code"] == 0

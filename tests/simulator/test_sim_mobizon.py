"""Mobizon over real HTTP: GetStatus envelope, codes, numeric strings, rate limit, regional servers."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.simulator.server import Simulator

from .conftest import Mobizon


def test_default_timeline_with_numbers_as_strings(simulator: Simulator, mobizon: Mobizon) -> None:
    task_id = simulator.mobizon.add_task()
    assert task_id == 5000
    bodies = [mobizon.get_status(task_id) for _ in range(5)]
    assert all(body["code"] == 0 and isinstance(body["message"], str) for body in bodies)
    assert [body["data"] for body in bodies] == [
        {"progress": "0", "status": "0"},
        {"progress": "40", "status": "1"},
        {"progress": "80", "status": "1"},
        {"progress": "100", "status": "2"},
        {"progress": "100", "status": "2"},
    ]


def test_envelope_is_always_http_200_json(simulator: Simulator, mobizon: Mobizon) -> None:
    for response in (mobizon.call(data={"id": 1}, key="bad"), mobizon.call(data={"id": 424242})):
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert set(response.json()) == {"code", "data", "message"}


@pytest.mark.parametrize("route", ["taskqueue/getstatus", "TaskQueue/GetStatus", "TASKQUEUE/getStatus"])
def test_routes_are_case_insensitive(simulator: Simulator, mobizon: Mobizon, route: str) -> None:
    task_id = simulator.mobizon.add_task(steps=[Step(2, progress=100)])
    assert mobizon.call(route, data={"id": task_id}).json()["data"] == {"progress": "100", "status": "2"}


def test_numbers_as_ints_when_configured(http: requests.Session) -> None:
    with Simulator(mobizon_numbers_as_strings=False, mobizon_rate_limit=None) as sim:
        task_id = sim.mobizon.add_task(steps=[Step(1, progress=55)])
        assert Mobizon(sim, http).get_status(task_id)["data"] == {"progress": 55, "status": 1}


def test_progress_defaults(simulator: Simulator, mobizon: Mobizon) -> None:
    running = simulator.mobizon.add_task(steps=[Step(1)])
    done = simulator.mobizon.add_task(steps=[Step(2)])
    rejected = simulator.mobizon.add_task(steps=[Step(3)])
    assert mobizon.get_status(running)["data"] == {"progress": "0", "status": "1"}
    assert mobizon.get_status(done)["data"] == {"progress": "100", "status": "2"}
    assert mobizon.get_status(rejected)["data"] == {"progress": "0", "status": "3"}


@pytest.mark.parametrize("key", ["", "wrong"])
def test_bad_key_is_code_8(simulator: Simulator, mobizon: Mobizon, key: str) -> None:
    task_id = simulator.mobizon.add_task()
    body = mobizon.get_status(task_id, key=key)
    assert body["code"] == 8 and body["data"] is None and body["message"]
    assert simulator.mobizon.current_status(task_id) == 0


def test_missing_key_parameter_is_code_8(simulator: Simulator, http: requests.Session) -> None:
    body = http.post(f"{simulator.mobizon_url}/service/taskqueue/getstatus", data={"id": 1}).json()
    assert body["code"] == 8


def test_unknown_task_is_code_2(mobizon: Mobizon) -> None:
    body = mobizon.get_status(987654)
    assert (body["code"], body["data"]) == (2, None)


def test_missing_id_is_code_11(mobizon: Mobizon) -> None:
    assert mobizon.call(data={}).json()["code"] == 11


@pytest.mark.parametrize("bad", ["abc", "1.5", "-3", "0"])
def test_bad_id_is_validation_code_1(mobizon: Mobizon, bad: str) -> None:
    body = mobizon.get_status(bad)
    assert body["code"] == 1
    assert "id" in body["data"]


def test_id_in_query_string_is_accepted(simulator: Simulator, http: requests.Session) -> None:
    task_id = simulator.mobizon.add_task(steps=[Step(2)])
    params = {"output": "json", "api": "v1", "apiKey": simulator.mobizon_api_key, "id": str(task_id)}
    body = http.post(f"{simulator.mobizon_url}/service/taskqueue/getstatus", params=params).json()
    assert body["data"]["status"] == "2"


def test_unknown_module_and_method(mobizon: Mobizon) -> None:
    assert mobizon.call("nosuchmodule/getstatus").json()["code"] == 4
    assert mobizon.call("taskqueue/nosuchmethod").json()["code"] == 5


def test_alt_server_serves_the_same_data(simulator: Simulator, mobizon: Mobizon) -> None:
    task_id = simulator.mobizon.add_task()
    assert mobizon.get_status(task_id)["data"]["status"] == "0"
    assert mobizon.get_status(task_id, base=simulator.mobizon_alt_url)["data"] == {"progress": "40", "status": "1"}
    assert simulator.count("mobizon", path="/mobizon-alt/") == 1
    assert simulator.count("mobizon") == 2


def test_add_recipients_sends_a_task_to_background(simulator: Simulator, mobizon: Mobizon) -> None:
    simulator.mobizon.add_task(5000)
    body = mobizon.call("Campaign/AddRecipients", data={"id": "1", "recipients[0]": "77001234567"}).json()
    assert body["code"] == 100
    assert body["data"] == "5001"
    assert mobizon.get_status(int(body["data"]))["data"] == {"progress": "0", "status": "0"}


def test_get_own_balance(mobizon: Mobizon) -> None:
    assert mobizon.call("User/GetOwnBalance").json() == {
        "code": 0,
        "data": {"balance": "1000.0000", "currency": "KZT"},
        "message": "",
    }
    assert mobizon.call("user/getownbalance", key="bad").json()["code"] == 8


def test_ids_skip_explicit_ones(simulator: Simulator) -> None:
    assert simulator.mobizon.add_task(5001) == 5001
    assert [simulator.mobizon.add_task() for _ in range(3)] == [5000, 5002, 5003]
    with pytest.raises(ValueError):
        simulator.mobizon.add_task(0)
    with pytest.raises(ValueError, match="already exists"):
        simulator.mobizon.add_task(5003)


def test_rate_limit_one_call_per_window_per_key(http: requests.Session) -> None:
    with Simulator(mobizon_rate_limit=0.5) as sim:
        client = Mobizon(sim, http)
        task_id = sim.mobizon.add_task()
        assert client.get_status(task_id)["data"]["status"] == "0"
        refused = client.get_status(task_id)
        assert (refused["code"], refused["data"]) == (30, None)
        assert sim.mobizon.rate_limited == 1
        time.sleep(0.25)
        assert client.get_status(task_id)["code"] == 30  # refused calls do not restart the window...
        time.sleep(0.3)
        second = client.get_status(task_id)  # ...so 0.55 s after the accepted call it passes
        assert second["code"] == 0
        assert second["data"] == {"progress": "40", "status": "1"}  # refusals did not advance the timeline
        assert sim.mobizon.rate_limited == 2
        assert sim.counters()["mobizon_rate_limited"] == 2
        # other calls are not limited, and a refused key (code 8) does not count
        assert client.call("campaign/addrecipients").json()["code"] == 100
        assert client.get_status(task_id, key="bad")["code"] == 8
        assert sim.mobizon.rate_limited == 2


def test_default_rate_limit_is_one_second(http: requests.Session) -> None:
    with Simulator() as sim:
        client = Mobizon(sim, http)
        task_id = sim.mobizon.add_task()
        assert client.get_status(task_id)["code"] == 0
        time.sleep(0.6)
        assert client.get_status(task_id)["code"] == 30
        sim.mobizon.reset_rate_limit()
        assert client.get_status(task_id)["code"] == 0

"""The Simulator object: lifecycle, URLs, connections, set_status, counters, logs, scenarios, load."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import aiohttp
import pytest
import requests

from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.simulator.scenario import read_scenario
from airflow_provider_tasks.simulator.server import ACCESS_LOGGER, Simulator

from .conftest import Mobizon, OpenReplay, PostEKetab


def test_urls(simulator: Simulator) -> None:
    assert simulator.url == f"http://127.0.0.1:{simulator.port}"
    assert simulator.posteketab_url == f"{simulator.url}/posteketab/api/v2/public"
    assert simulator.openreplay_url == f"{simulator.url}/openreplay/v2"
    assert simulator.mobizon_url == f"{simulator.url}/mobizon"
    assert simulator.mobizon_alt_url == f"{simulator.url}/mobizon-alt"
    assert simulator.running


def test_connection_uris_and_env(simulator: Simulator) -> None:
    uris = simulator.connection_uris()
    assert set(uris) == {"posteketab_default", "openreplay_default", "mobizon_default"}
    assert json.loads(uris["posteketab_default"]) == {
        "conn_type": "posteketab",
        "host": simulator.posteketab_url,
        "password": "sim-posteketab-token",
        "extra": {"timeout": 10},
    }
    assert json.loads(uris["openreplay_default"]) == {
        "conn_type": "openreplay",
        "host": simulator.openreplay_url,
        "password": "sim-openreplay-key",
        "extra": {"project_key": "simproject", "timeout": 10},
    }
    assert json.loads(uris["mobizon_default"])["host"] == simulator.mobizon_url
    assert json.loads(uris["mobizon_default"])["password"] == "sim-mobizon-key"
    assert simulator.env() == {
        "AIRFLOW_CONN_POSTEKETAB_DEFAULT": uris["posteketab_default"],
        "AIRFLOW_CONN_OPENREPLAY_DEFAULT": uris["openreplay_default"],
        "AIRFLOW_CONN_MOBIZON_DEFAULT": uris["mobizon_default"],
    }


def test_custom_credentials(http: requests.Session) -> None:
    with Simulator(
        posteketab_token="t1", openreplay_api_key="k1", openreplay_project_key="p1", mobizon_api_key="m1"
    ) as sim:
        assert (sim.posteketab_token, sim.openreplay_api_key, sim.openreplay_project_key, sim.mobizon_api_key) == (
            "t1",
            "k1",
            "p1",
            "m1",
        )
        assert PostEKetab(sim, http).list(token="t1").json()["returns"]["status"] == 200
        assert OpenReplay(sim, http).call("GET", "p1/jobs", key="k1").status_code == 200
        assert OpenReplay(sim, http).call("GET", "simproject/jobs", key="k1").status_code == 401
        assert Mobizon(sim, http).get_status(1, key="m1")["code"] == 2
        assert json.loads(sim.connection_uris()["openreplay_default"])["extra"]["project_key"] == "p1"


def test_lifecycle(http: requests.Session) -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError, match="start"):
        _ = sim.url
    task_id = sim.posteketab.add_task(steps=[Step(3)])  # state can be prepared before start
    sim.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            sim.start()
        assert PostEKetab(sim, http).status(task_id) == 3
        url = sim.url
    finally:
        sim.stop()
    assert not sim.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_sim/counters", timeout=2)
    sim.stop()  # idempotent
    with sim:  # restartable, items kept
        assert PostEKetab(sim, http).status(task_id) == 3


def test_fixed_port_in_use_fails_at_start() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        sim = Simulator(port=port)
        assert sim.url == f"http://127.0.0.1:{port}"
        with pytest.raises(OSError):
            sim.start()
        assert not sim.running


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_only_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Simulator(host=host)


def test_set_status_forces_and_records_time(
    simulator: Simulator, posteketab: PostEKetab, openreplay: OpenReplay, mobizon: Mobizon
) -> None:
    pk = simulator.posteketab.add_task()
    job = simulator.openreplay.add_job()
    mz = simulator.mobizon.add_task()
    before = time.monotonic()
    simulator.set_status("posteketab", pk, 4)
    simulator.set_status("openreplay", job, "failed")
    simulator.set_status("mobizon", mz, 1, progress=65)
    after = time.monotonic()
    for key in (("posteketab", pk), ("openreplay", str(job)), ("mobizon", str(mz))):
        assert before <= simulator.status_changed_at[key] <= after
    assert [posteketab.status(pk) for _ in range(3)] == [4, 4, 4]  # sticky
    assert posteketab.detail(pk).json()["entries"]["ended_at"] is not None
    assert openreplay.status(job) == "failed"
    assert mobizon.get_status(mz)["data"] == {"progress": "65", "status": "1"}
    assert mobizon.get_status(mz)["data"] == {"progress": "65", "status": "1"}
    with pytest.raises(KeyError):
        simulator.set_status("mobizon", 1, 2)
    with pytest.raises(TypeError):
        simulator.set_status("openreplay", job, 3)
    with pytest.raises(ValueError):
        simulator.set_status("tapin", pk, 3)


def test_timeline_changes_are_recorded(simulator: Simulator, posteketab: PostEKetab) -> None:
    pk = simulator.posteketab.add_task(steps=[Step(0, polls=1), Step(3)])
    assert ("posteketab", pk) not in simulator.status_changed_at
    before = time.monotonic()
    posteketab.detail(pk)
    posteketab.detail(pk)
    assert before <= simulator.status_changed_at[("posteketab", pk)] <= time.monotonic()


def test_counts_and_records(
    simulator: Simulator, posteketab: PostEKetab, openreplay: OpenReplay, mobizon: Mobizon
) -> None:
    start = time.monotonic()
    posteketab.list()
    openreplay.call("GET", "projects")
    openreplay.cancel(5)
    mobizon.get_status(1)
    mobizon.get_status(1, base=simulator.mobizon_alt_url)
    requests.post(f"{simulator.url}/_sim/reset_counters_is_not_a_route")
    requests.get(f"{simulator.url}/_sim/counters")  # control calls are not counted
    assert simulator.count() == 5
    assert simulator.count("openreplay") == 2
    assert simulator.count("openreplay", method="DELETE") == 1
    assert simulator.count("mobizon", path="/mobizon-alt/") == 1
    assert simulator.count(path="jobs/5") == 1
    records = simulator.requests
    assert [(r.service, r.method, r.status) for r in records] == [
        ("posteketab", "POST", 200),
        ("openreplay", "GET", 200),
        ("openreplay", "DELETE", 404),
        ("mobizon", "POST", 200),
        ("mobizon", "POST", 200),
    ]
    assert records[2].path == "/openreplay/v2/public/simproject/jobs/5"
    assert all(start <= r.timestamp <= time.monotonic() for r in records)
    assert simulator.counters() == {
        "total": 5,
        "by_service": {"posteketab": 1, "openreplay": 2, "mobizon": 2},
        "mobizon_rate_limited": 0,
    }
    with pytest.raises(ValueError):
        simulator.count("tapin")


def test_unknown_route_under_a_service_is_counted(simulator: Simulator) -> None:
    assert requests.get(f"{simulator.posteketab_url}/nope/").status_code == 404
    assert requests.get(f"{simulator.openreplay_url}/public/simproject/jobs/1/extra").status_code == 404
    assert [r.status for r in simulator.requests] == [404, 404]


def test_secrets_never_reach_records_or_logs(
    simulator: Simulator, mobizon: Mobizon, posteketab: PostEKetab, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        mobizon.get_status(1)
        posteketab.list()
        mobizon.get_status(1, key="some-other-secret")
    access_lines = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER.name]
    assert len(access_lines) == 3
    assert "/mobizon/service/taskqueue/getstatus 200" in access_lines[0]
    server_side = [r for r in caplog.records if r.name.startswith(("airflow_provider_tasks.simulator", "aiohttp"))]
    everything = "\n".join(r.getMessage() for r in server_side) + repr(simulator.requests)
    for secret in ("sim-mobizon-key", "some-other-secret", "sim-posteketab-token", "apiKey"):
        assert secret not in everything
    assert "sim-mobizon-key" not in repr(simulator)


def test_reset_and_reset_counters(simulator: Simulator, posteketab: PostEKetab, openreplay: OpenReplay) -> None:
    task_id = simulator.posteketab.add_task()
    simulator.openreplay.add_job()
    simulator.openreplay.new_job_steps = [Step("completed")]
    simulator.add_fault("posteketab", "http", status=500, times=3)
    posteketab.detail(task_id)
    simulator.set_status("posteketab", task_id, 3)
    simulator.reset_counters()
    assert simulator.count() == 0 and simulator.requests == []
    assert len(simulator.posteketab) == 1 and len(simulator.faults) == 1
    simulator.reset()
    assert simulator.count() == 0
    assert (len(simulator.posteketab), len(simulator.openreplay), len(simulator.faults)) == (0, 0, 0)
    assert simulator.status_changed_at == {}
    assert posteketab.detail(task_id).json()["returns"]["status"] == 362  # no fault left, task gone
    assert simulator.openreplay.add_job() == 1000  # ids start over
    assert simulator.openreplay.new_job_steps[0] == Step("scheduled", polls=1)


def test_demo_scenario(simulator: Simulator, posteketab: PostEKetab, openreplay: OpenReplay, mobizon: Mobizon) -> None:
    simulator.load_scenario(read_scenario("demo"))
    first = "5f1c2d3e-0000-4000-8000-000000000001"
    assert [posteketab.status(first) for _ in range(3)] == [1, 2, 3]
    rows = posteketab.detail(first).json()["entries"]["task_result"]
    assert len(rows) == 3 and [row["is_success"] for row in rows].count(False) == 1
    assert set(rows[0]) == {"local_id", "full_name", "province", "city", "message", "is_success"}
    second = "5f1c2d3e-0000-4000-8000-000000000002"
    entries = [posteketab.detail(second).json()["entries"] for _ in range(2)]
    assert [e["task_status"] for e in entries] == [2, 3]
    assert entries[1]["task_type"] == 2 and entries[1]["task_result"] == []
    old = openreplay.job(1000).json()["data"]
    assert (old["referenceId"], old["status"]) == ("old-user@example.com", "completed")
    mistaken = openreplay.job(1001).json()["data"]
    assert (mistaken["referenceId"], mistaken["status"]) == ("mistaken-user@example.com", "scheduled")
    failed_import = posteketab.detail("5f1c2d3e-0000-4000-8000-000000000003").json()["entries"]
    assert (failed_import["task_type"], failed_import["task_status"]) == (0, 4)
    new = openreplay.delete_user("someone@example.com").json()["data"]
    assert [openreplay.status(new["jobId"]) for _ in range(3)] == ["scheduled", "running", "completed"]
    assert [mobizon.get_status(5001)["data"] for _ in range(4)] == [
        {"progress": "0", "status": "0"},
        {"progress": "40", "status": "1"},
        {"progress": "80", "status": "1"},
        {"progress": "100", "status": "2"},
    ]


def test_scenario_validation(simulator: Simulator, tmp_path: object) -> None:
    with pytest.raises(ValueError, match="unknown scenario key"):
        simulator.load_scenario({"tapin": []})
    with pytest.raises(ValueError, match="unknown posteketab field"):
        simulator.load_scenario({"posteketab": [{"task_kind": 1}]})
    simulator.load_scenario(
        {
            "posteketab": [{"task_id": "x", "created_at": "2024-01-01T10:00:00+00:00", "steps": [{"status": 3}]}],
            "openreplay_new_job_steps": [{"status": "completed"}],
        }
    )
    assert simulator.posteketab.current_status("x") == 3
    assert simulator.openreplay.new_job_steps == [Step("completed")]


def test_many_concurrent_requests(simulator: Simulator) -> None:
    job_ids = [simulator.openreplay.add_job(user_id=f"u{i}") for i in range(300)]
    headers = {"Authorization": f"Bearer {simulator.openreplay_api_key}"}

    async def poll_all() -> list[int]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

            async def one(job_id: int) -> int:
                async with session.get(f"{simulator.openreplay_url}/public/simproject/jobs/{job_id}") as response:
                    body = await response.json()
                    assert body["data"]["jobId"] == job_id
                    return response.status

            return await asyncio.gather(*(one(job_id) for job_id in job_ids))

    assert asyncio.run(poll_all()) == [200] * 300
    assert simulator.count("openreplay") == 300
    assert {simulator.openreplay.current_status(j) for j in job_ids} == {"running"}

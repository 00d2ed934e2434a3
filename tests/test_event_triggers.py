"""Event triggers for AssetWatcher: each finished item announced once, across restarts; filters; the
bounded cursor and where it is kept; the shared stream."""

from __future__ import annotations

import asyncio
import datetime
import importlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.triggers import cursor as cursor_module
from airflow_provider_tasks.triggers import events
from airflow_provider_tasks.triggers.openreplay import OpenReplayJobFinishedTrigger
from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskFinishedTrigger


class FakeAssetStateStore:
    """Airflow 3.3's ``AssetStateStoreAccessors`` of one watched asset (what survives restarts)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)  # the metadata DB keeps JSON


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), 60))


def watcher(cls: type, store: Any, **kwargs: Any) -> Any:
    trigger = cls(**{"poll_interval": 0.01, **kwargs})
    trigger.asset_state_store = store
    return trigger


async def one_round(trigger: Any) -> list[dict[str, Any]]:
    """What one read of the shared stream makes this trigger announce."""
    items, more = await trigger.read_page(trigger.hook, trigger.scope(), 1)
    return await trigger.take_view({"items": items, "more": more, "error": None})


def ids(payloads: list[dict[str, Any]]) -> list[Any]:
    return [payload["id"] for payload in payloads]


def test_a_new_watcher_announces_only_what_finishes_after_it_starts(sim):
    sim.openreplay.add_job(user_id="a", steps=[Step("completed")])  # finished before: history
    running = sim.openreplay.add_job(user_id="b", steps=[Step("running")])
    store = FakeAssetStateStore()

    async def scenario() -> None:
        trigger = watcher(OpenReplayJobFinishedTrigger, store)
        assert await one_round(trigger) == []  # the baseline: old_done is history
        assert await one_round(trigger) == []
        sim.set_status("openreplay", running, "completed")
        new = sim.openreplay.add_job(user_id="c", steps=[Step("failed")], errors="disk full")
        payloads = await one_round(trigger)
        assert ids(payloads) == [running, new]  # oldest first
        first = payloads[0]
        assert first["service"] == "OpenReplay" and first["type"] == "delete_user_data"
        assert first["status"] == "completed" and first["state"] == "succeeded" and first["reference_id"] == "b"
        assert first["created_at"].endswith("+00:00") and first["item"]["jobId"] == running
        assert payloads[1]["errors"] == "disk full" and payloads[1]["state"] == "failed"
        assert await one_round(trigger) == []  # once
        await trigger.cleanup()

    run(scenario)


def test_a_restarted_or_recreated_watcher_announces_nothing_twice(sim):
    first = sim.openreplay.add_job(user_id="a", steps=[Step("scheduled")])
    second = sim.openreplay.add_job(user_id="b", steps=[Step("scheduled")])
    store = FakeAssetStateStore()

    async def scenario() -> None:
        trigger = watcher(OpenReplayJobFinishedTrigger, store, action="delete_user_data")
        await one_round(trigger)
        sim.set_status("openreplay", first, "completed")
        assert ids(await one_round(trigger)) == [first]
        await trigger.cleanup()
        # The triggerer restarts; meanwhile the second job finishes and a third appears and finishes.
        sim.set_status("openreplay", second, "cancelled")
        third = sim.openreplay.add_job(user_id="c", steps=[Step("completed")])
        again = watcher(OpenReplayJobFinishedTrigger, store, action="delete_user_data", poll_interval=5)
        assert ids(await one_round(again)) == [second, third]  # the interval is not part of the cursor's key
        assert await one_round(again) == []
        await again.cleanup()

    run(scenario)
    (key,) = store.values
    assert key.startswith(cursor_module.CURSOR_KEY_PREFIX + "OpenReplayJobFinishedTrigger.")


def test_filters_decide_what_is_announced(sim):
    store = FakeAssetStateStore()
    jobs = {
        "a-ok": sim.openreplay.add_job(user_id="a", steps=[Step("running")]),
        "a-failed": sim.openreplay.add_job(user_id="a", steps=[Step("running")]),
        "b-ok": sim.openreplay.add_job(user_id="b", steps=[Step("running")]),
    }

    async def scenario() -> None:
        trigger = watcher(OpenReplayJobFinishedTrigger, store, status="completed", reference_id="a")
        await one_round(trigger)
        sim.set_status("openreplay", jobs["a-ok"], "completed")
        sim.set_status("openreplay", jobs["a-failed"], "failed")
        sim.set_status("openreplay", jobs["b-ok"], "completed")
        assert ids(await one_round(trigger)) == [jobs["a-ok"]]
        await trigger.cleanup()

    run(scenario)
    saved = json.loads(next(iter(store.values.values())))
    assert saved["open"] == {} and saved["high"] == jobs["b-ok"]  # nothing left to track


def test_a_start_announces_what_finished_after_it(sim):
    before = sim.openreplay.add_job(user_id="a", steps=[Step("completed")])
    after = [sim.openreplay.add_job(user_id=f"u{n}", steps=[Step("completed")]) for n in range(3)]

    async def scenario() -> list[Any]:
        trigger = watcher(OpenReplayJobFinishedTrigger, FakeAssetStateStore(), after_job_id=before)
        found = ids(await one_round(trigger))
        await trigger.cleanup()
        return found

    assert run(scenario) == after


def test_more_new_items_than_a_page_are_read_back(sim, monkeypatch):
    monkeypatch.setattr("airflow_provider_tasks.triggers.openreplay.MAX_PAGE_SIZE", 2)
    store = FakeAssetStateStore()
    sim.openreplay.add_job(user_id="seed", steps=[Step("completed")])

    async def scenario() -> list[Any]:
        trigger = watcher(OpenReplayJobFinishedTrigger, store)
        await one_round(trigger)
        burst = [sim.openreplay.add_job(user_id=f"u{n}", steps=[Step("completed")]) for n in range(5)]
        found = ids(await one_round(trigger))
        await trigger.cleanup()
        assert found == burst
        return found

    run(scenario)
    assert sim.count("openreplay", path="jobs") >= 4


def test_unfinished_items_pushed_off_the_page_are_still_announced(sim, monkeypatch):
    monkeypatch.setattr("airflow_provider_tasks.triggers.openreplay.MAX_PAGE_SIZE", 2)
    store = FakeAssetStateStore()
    slow = sim.openreplay.add_job(user_id="slow", steps=[Step("running")])

    async def scenario() -> None:
        trigger = watcher(OpenReplayJobFinishedTrigger, store)
        await one_round(trigger)
        for n in range(3):
            sim.openreplay.add_job(user_id=f"n{n}", steps=[Step("running")])
        assert await one_round(trigger) == []
        sim.set_status("openreplay", slow, "completed")
        assert ids(await one_round(trigger)) == [slow]  # read by id: it is no longer on the first page
        await trigger.cleanup()

    run(scenario)


def test_post_e_ketab_tasks_by_type_and_status(sim):
    store = FakeAssetStateStore()
    old = sim.posteketab.add_task(task_type=0, steps=[Step(3)])
    imports = sim.posteketab.add_task(task_type=0, steps=[Step(2)])
    export = sim.posteketab.add_task(task_type=2, steps=[Step(2)])

    async def scenario() -> None:
        trigger = watcher(PostEKetabTaskFinishedTrigger, store, posteketab_task_type=0, posteketab_task_status=[3, 4])
        assert await one_round(trigger) == []
        sim.set_status("posteketab", imports, 4)
        sim.set_status("posteketab", export, 3)
        later = sim.posteketab.add_task(task_type=0, steps=[Step(3)])
        payloads = await one_round(trigger)
        assert ids(payloads) == [imports, later]
        assert payloads[0]["status"] == 4 and payloads[0]["state"] == "failed" and payloads[0]["type"] == 0
        assert payloads[0]["created_at"].endswith("+03:30")  # read in the connection's timezone
        assert "task_result" not in payloads[0]["item"]
        assert await one_round(trigger) == []
        await trigger.cleanup()

    run(scenario)
    assert old not in store.values


def test_post_e_ketab_created_after(sim):
    now = datetime.datetime.now(datetime.UTC)
    sim.posteketab.add_task(task_type=1, steps=[Step(3)], created_at=now - datetime.timedelta(hours=2))
    recent = sim.posteketab.add_task(task_type=1, steps=[Step(3)], created_at=now - datetime.timedelta(minutes=5))
    start = (now - datetime.timedelta(hours=1)).isoformat()

    async def scenario() -> list[Any]:
        trigger = watcher(PostEKetabTaskFinishedTrigger, FakeAssetStateStore(), created_after=start)
        found = ids(await one_round(trigger))
        await trigger.cleanup()
        return found

    assert run(scenario) == [recent]


def test_the_cursor_stays_bounded(sim, monkeypatch):
    monkeypatch.setattr(events, "MAX_OPEN", 2)
    store = FakeAssetStateStore()
    for n in range(4):
        sim.openreplay.add_job(user_id=f"u{n}", steps=[Step("running")])

    async def scenario() -> None:
        trigger = watcher(OpenReplayJobFinishedTrigger, store)
        await one_round(trigger)
        await one_round(trigger)
        await trigger.cleanup()

    run(scenario)
    saved = json.loads(next(iter(store.values.values())))
    assert len(saved["open"]) == 2 and set(saved) == {"high", "at_high", "open"}


def test_a_failed_read_is_logged_and_the_stream_goes_on(sim, logs):
    sim.add_fault("openreplay", "http", status=401, times=1)

    async def scenario() -> list[Any]:
        trigger = OpenReplayJobFinishedTrigger(poll_interval=0.01)
        stream = type(trigger).open_shared_stream(trigger.serialize()[1])
        views = [await stream.__anext__(), await stream.__anext__()]
        await stream.aclose()
        return views

    first, second = run(scenario)
    assert "RemoteAuthError" in first["error"] and second["error"] is None
    trigger = OpenReplayJobFinishedTrigger()
    assert run(lambda: trigger.take_view(first)) == []
    assert "reading the list failed" in logs()


def test_run_alone_announces_through_the_same_stream(sim):
    store = FakeAssetStateStore()
    job = sim.openreplay.add_job(user_id="a", steps=[Step("scheduled")])

    async def scenario() -> Any:
        trigger = watcher(OpenReplayJobFinishedTrigger, store)
        events_seen = trigger.run()
        pending = asyncio.ensure_future(events_seen.__anext__())
        await asyncio.sleep(0.3)
        sim.set_status("openreplay", job, "completed")
        event = await asyncio.wait_for(pending, 10)
        await events_seen.aclose()
        await trigger.cleanup()
        return event.payload

    assert run(scenario)["id"] == job


def test_watchers_of_one_list_share_a_stream_whatever_their_filters():
    a = OpenReplayJobFinishedTrigger(status="completed", project_key="pk")
    b = OpenReplayJobFinishedTrigger(status="failed", action="delete_user_data", project_key="pk")
    c = OpenReplayJobFinishedTrigger(project_key="other")
    assert a.shared_stream_key() == b.shared_stream_key() != c.shared_stream_key()
    p = PostEKetabTaskFinishedTrigger(posteketab_task_type=0)
    assert p.shared_stream_key() != a.shared_stream_key()


@pytest.mark.parametrize(
    "trigger",
    [
        OpenReplayJobFinishedTrigger(status=["failed", "completed"], action="delete_user_data", after_job_id=4),
        PostEKetabTaskFinishedTrigger(
            posteketab_task_type=[4, 0], posteketab_task_status=3, created_after="2026-01-01T00:00"
        ),
    ],
    ids=lambda t: type(t).__name__,
)
def test_serialize_round_trips(trigger):
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    json.dumps(kwargs)


def test_bad_filters_fail_at_parse_time():
    with pytest.raises(ValueError, match="status must be among"):
        OpenReplayJobFinishedTrigger(status="running")
    with pytest.raises(ValueError, match="posteketab_task_status"):
        PostEKetabTaskFinishedTrigger(posteketab_task_status=2)
    with pytest.raises(ValueError, match="created_after"):
        PostEKetabTaskFinishedTrigger(created_after="yesterday-ish")
    with pytest.raises(ValueError, match="poll_interval"):
        OpenReplayJobFinishedTrigger(poll_interval=0)


def test_an_asset_watcher_takes_them():
    pytest.importorskip("airflow.sdk.definitions.asset")
    from airflow.sdk import Asset, AssetWatcher

    asset = Asset(
        "openreplay_deletions",
        watchers=[AssetWatcher(name="finished_jobs", trigger=OpenReplayJobFinishedTrigger(status="completed"))],
    )
    assert asset.watchers[0].trigger.status == ["completed"]


# ---------------------------------------------------------------------- where the cursor lives


def test_without_an_asset_state_store_the_cursor_is_an_airflow_variable(sim, monkeypatch):
    from airflow.providers.common.compat.sdk import Variable

    variables: dict[str, str] = {}
    monkeypatch.setattr(Variable, "get", staticmethod(lambda key, default=None: variables.get(key, default)))
    monkeypatch.setattr(Variable, "set", staticmethod(lambda key, value, **_: variables.__setitem__(key, value)))
    job = sim.openreplay.add_job(user_id="a", steps=[Step("running")])

    async def scenario() -> None:
        trigger = OpenReplayJobFinishedTrigger(poll_interval=0.01)
        await one_round(trigger)
        sim.set_status("openreplay", job, "completed")
        restarted = OpenReplayJobFinishedTrigger(poll_interval=0.01)
        assert ids(await one_round(restarted)) == [job]
        again = OpenReplayJobFinishedTrigger(poll_interval=0.01)
        assert await one_round(again) == []
        assert restarted.cursor_store.kind == "variable"
        for each in (trigger, restarted, again):
            await each.cleanup()

    run(scenario)
    assert list(variables) == [OpenReplayJobFinishedTrigger().cursor_store.key]


def test_where_airflow_refuses_the_cursor_lives_in_memory_and_says_so(sim, monkeypatch, caplog):
    from airflow.providers.common.compat.sdk import Variable

    def refuse(*_: Any, **__: Any) -> Any:
        raise RuntimeError("no variables from here")

    monkeypatch.setattr(Variable, "get", staticmethod(refuse))
    monkeypatch.setattr(Variable, "set", staticmethod(refuse))
    job = sim.openreplay.add_job(user_id="a", steps=[Step("running")])

    async def scenario() -> None:
        trigger = OpenReplayJobFinishedTrigger(poll_interval=0.01)
        await one_round(trigger)
        sim.set_status("openreplay", job, "completed")
        assert ids(await one_round(trigger)) == [job]
        assert trigger.cursor_store.kind == "memory"
        await trigger.cleanup()

    run(scenario)
    assert sum("keeping it in memory" in record.getMessage() for record in caplog.records) == 1


def test_several_assets_watching_one_trigger_each_keep_the_cursor():
    class Accessors:  # Airflow 3.3's AssetStateStoreAccessors for two assets
        def __init__(self) -> None:
            self._by_name = {"a": FakeAssetStateStore(), "b": FakeAssetStateStore()}
            self._by_uri: dict[str, Any] = {}

    accessors = Accessors()
    store = cursor_module.CursorStore("k", accessors)
    run(lambda: store.save({"high": 3, "at_high": ["3"], "open": {}}))
    assert all(json.loads(s.values["k"])["high"] == 3 for s in accessors._by_name.values())
    del accessors._by_name["a"].values["k"]
    assert run(cursor_module.CursorStore("k", accessors).load)["high"] == 3


def test_registered_where_airflow_looks_for_triggers():
    """Airflow lists event triggers with the others, under ``triggers`` (as the HTTP provider does
    for its HttpEventTrigger); the schema has no other key for them."""
    from airflow_provider_tasks.get_provider_info import get_provider_info

    modules = {module for entry in get_provider_info()["triggers"] for module in entry["python-modules"]}
    for cls in (OpenReplayJobFinishedTrigger, PostEKetabTaskFinishedTrigger):
        assert cls.__module__ in modules
        assert cls.__name__ in importlib.import_module(cls.__module__).__all__


def test_airflow_shared_stream_reads_the_list_once_for_every_watcher(sim):
    """Airflow 3.3.2's SharedStreamManager, as the triggerer drives it: one list read per round feeds
    two watchers with different filters."""
    shared_stream = pytest.importorskip("airflow.triggers.shared_stream")
    completed = sim.openreplay.add_job(user_id="a", steps=[Step("running")])
    failed = sim.openreplay.add_job(user_id="b", steps=[Step("running")])

    async def scenario() -> tuple[list[Any], list[Any], int]:
        manager = shared_stream.SharedStreamManager()
        a = watcher(OpenReplayJobFinishedTrigger, FakeAssetStateStore(), status="completed", poll_interval=0.2)
        b = watcher(OpenReplayJobFinishedTrigger, FakeAssetStateStore(), status="failed", poll_interval=0.2)
        assert a.shared_stream_key() == b.shared_stream_key()
        streams = [
            trigger.filter_shared_stream(
                manager.subscribe(trigger_id=n, trigger=trigger, key=trigger.shared_stream_key())
            )
            for n, trigger in enumerate((a, b))
        ]
        firsts = [asyncio.ensure_future(stream.__anext__()) for stream in streams]
        await asyncio.sleep(1.0)  # both baselines taken
        reads_before = sim.count("openreplay", path="jobs")
        sim.set_status("openreplay", completed, "completed")
        sim.set_status("openreplay", failed, "failed")
        got = await asyncio.wait_for(asyncio.gather(*firsts), 20)
        await asyncio.sleep(1.0)
        reads = sim.count("openreplay", path="jobs") - reads_before
        for n, trigger in enumerate((a, b)):
            await manager.unsubscribe(n, trigger.shared_stream_key())
            await trigger.cleanup()
        await manager.stop_all()
        return [got[0].payload["id"]], [got[1].payload["id"]], reads

    got_a, got_b, reads = run(scenario)
    assert got_a == [completed] and got_b == [failed]
    assert reads <= 12  # about one read per 0.2 s round for both watchers, not one each

"""Errors a person can act on (issue 10, item 5): every code SPEC §5 lists keeps the service's own code
and message verbatim and adds a short English explanation from the hook's table."""

from __future__ import annotations

import pickle
import re

import pytest

from airflow_provider_tasks.exceptions import (
    RemoteApiError,
    RemoteAuthError,
    RemoteError,
    RemoteTaskNotFound,
    RemoteTransientError,
)
from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.simulator import Step
from airflow_provider_tasks.simulator.mobizon import MESSAGES as MOBIZON_MESSAGES
from airflow_provider_tasks.simulator.posteketab import _GENERIC_MESSAGE
from airflow_provider_tasks.simulator.posteketab import MESSAGES as POSTEKETAB_MESSAGES
from airflow_provider_tasks.waits.events import error_event, resolve_event

#: The codes SPEC §5 lists, per service (OpenReplay's are HTTP statuses). 100 and 0 are successes.
SPEC_CODES = {
    PostEKetabHook: {300, 301, 332, 336, 337, 339, 340, 350, 357, 362, 364, 369, 371, 372},
    MobizonHook: {1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 30, 98, 99, 999},
    OpenReplayHook: {400, 401, 403, 404, 409},
}
_NOT_ENGLISH = re.compile(r"[\u0400-\u04ff\u0600-\u06ff]")  # Cyrillic, Arabic script


@pytest.mark.parametrize("hook", list(SPEC_CODES), ids=lambda hook: hook.__name__)
def test_one_table_per_service_explains_every_listed_code_in_english(hook):
    assert set(hook.error_hints) == SPEC_CODES[hook]
    for code, hint in hook.error_hints.items():
        assert hint == hint.strip() and len(hint) < 160, code
        assert not _NOT_ENGLISH.search(hint) and re.search(r"[a-z]{4}", hint), code


def _expected_class(hook: type, code: int) -> type[RemoteError]:
    return hook.error_codes.get(code, RemoteApiError)


@pytest.mark.parametrize("code", sorted(SPEC_CODES[PostEKetabHook]))
def test_posteketab_codes_keep_the_services_words_and_add_the_explanation(sim, code):
    task_id = sim.posteketab.add_task(steps=[Step(2)])
    sim.add_fault("posteketab", "code", code=code, times=1)
    with pytest.raises(RemoteError) as info:
        PostEKetabHook(retry_limit=1).get_task(task_id)
    error, persian = info.value, POSTEKETAB_MESSAGES.get(code, _GENERIC_MESSAGE)
    assert type(error) is _expected_class(PostEKetabHook, code)
    assert error.code == code and error.remote_message == persian  # verbatim
    assert error.hint == PostEKetabHook.error_hints[code]
    assert f"code {code}: {persian} ({error.hint})" in str(error)


def test_the_example_of_the_issue(sim):
    sim.add_fault("posteketab", "code", code=332, times=1)
    with pytest.raises(RemoteAuthError) as info:
        PostEKetabHook().get_task("any")
    assert "code 332: توکن یافت نشد. (token not found — check the connection's password, the JWT)" in str(info.value)


@pytest.mark.parametrize("code", sorted(SPEC_CODES[MobizonHook] - {13}))  # 13: tests/test_mobizon_handoff.py
def test_mobizon_codes_keep_the_services_words_and_add_the_explanation(sim, code):
    sim.add_fault("mobizon", "code", code=code, times=1)
    with pytest.raises(RemoteError) as info:
        MobizonHook(retry_limit=1).get_task_status(5000)
    error = info.value
    assert type(error) is _expected_class(MobizonHook, code)
    assert error.code == code and error.remote_message == MOBIZON_MESSAGES[code]
    assert f"code {code}: {MOBIZON_MESSAGES[code]} ({MobizonHook.error_hints[code]})" in str(error)


@pytest.mark.parametrize(
    ("status", "error_class", "text"),
    [
        (400, RemoteApiError, "bad request"),
        (401, RemoteAuthError, "HTTP 401 with an empty body"),  # OpenReplay's 401 has no body
        (403, RemoteAuthError, "forbidden"),
        (404, RemoteTaskNotFound, "not found"),
        (409, RemoteApiError, "conflict"),
    ],
)
def test_openreplay_statuses_keep_the_services_words_and_add_the_explanation(sim, status, error_class, text):
    job_id = sim.openreplay.add_job(steps=[Step("running")])
    sim.add_fault("openreplay", "http", status=status, times=1)
    with pytest.raises(RemoteError) as info:
        OpenReplayHook().get_job(job_id)
    error = info.value
    assert type(error) is error_class and error.code == status
    assert error.remote_message == text
    assert f"code {status}: {text} ({OpenReplayHook.error_hints[status]})" in str(error)


def test_transient_codes_say_what_happened_after_the_retries(sim):
    sim.add_fault("posteketab", "code", code=350, times=2)
    with pytest.raises(RemoteTransientError) as info:
        PostEKetabHook(retry_limit=2).get_task("any")
    assert "internal error at Post-e-Ketab — retried" in str(info.value)


def test_the_explanation_survives_pickling_and_trigger_events():
    error = RemoteAuthError("Post-e-Ketab", "توکن یافت نشد.", item_id="t1", code=332, hint="token not found")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    with pytest.raises(RemoteAuthError) as info:
        resolve_event(error_event("Post-e-Ketab", "t1", error), "Post-e-Ketab", "t1")
    assert str(info.value) == str(error)
    assert info.value.remote_message == "توکن یافت نشد." and info.value.hint == "token not found"


def test_an_error_without_a_message_shows_the_explanation_alone():
    assert str(RemoteApiError("Mobizon", "", code=99, hint="nothing was done")) == "Mobizon, code 99: nothing was done"
    assert str(RemoteApiError("Mobizon", "x", code=99)) == "Mobizon, code 99: x"

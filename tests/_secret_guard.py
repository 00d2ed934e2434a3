"""A pytest plugin that fails any test through which an API key or token leaks.

For every test it searches, for each known secret: every log record (the root logger is set to DEBUG,
so urllib3's request-URL lines are produced), everything printed (Airflow 3 logs through structlog to
stdout), the message of every error this package creates, every XCom value pushed to the test's task
instance, every rendered template field, the ``repr()`` of every hook and of the connection settings it holds
(hooks keep no Airflow ``Connection``: on Airflow 3.3 its repr shows the password), and the failure
report itself. Secrets are the simulator's credentials and the wrong keys
tests send. A leak turns the test's report into a failure naming where the secret appeared.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterator
from typing import Any

import pytest

#: The credentials the simulator accepts, and the wrong ones tests send to it.
SECRETS = (
    "sim-posteketab-token",
    "sim-openreplay-key",
    "sim-mobizon-key",
    "wrong-mobizon-key",
    "bad-key-123",
    "wrong-token",
)
_SEEN = pytest.StashKey[list[str]]()


def find_leaks(texts: list[str]) -> list[str]:
    found = []
    for text in texts:
        for secret in SECRETS:
            index = text.find(secret)
            if index >= 0:
                found.append(f"{secret[:6]}… in {text[max(0, index - 100) : index + 30]!r}")
    return found


@pytest.fixture(autouse=True)
def secret_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record what the package says during the test (the report hook below searches it)."""
    from airflow.providers.common.compat.sdk import BaseOperator

    from airflow_provider_tasks import exceptions
    from airflow_provider_tasks.hooks.base import RemoteTaskHook

    seen = request.node.stash.setdefault(_SEEN, [])
    hooks: list[RemoteTaskHook] = []
    original_init = RemoteTaskHook.__init__
    original_render = BaseOperator.render_template_fields

    def recording_init(self: RemoteTaskHook, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        hooks.append(self)

    def recording_render(self: Any, context: Any, jinja_env: Any = None) -> Any:
        result = original_render(self, context, jinja_env)
        seen.extend(repr(getattr(self, name, None)) for name in self.template_fields)
        return result

    monkeypatch.setattr(RemoteTaskHook, "__init__", recording_init)
    monkeypatch.setattr(BaseOperator, "render_template_fields", recording_render)
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.DEBUG)
    original_describe = exceptions._describe

    def recording_describe(*args: Any) -> str:
        text = original_describe(*args)
        seen.append(text)
        return text

    monkeypatch.setattr(exceptions, "_describe", recording_describe)
    yield seen
    seen.extend(f"{hook!r} {hook._settings!r}" for hook in hooks)
    context = getattr(request.node, "funcargs", {}).get("context")
    ti = context.get("ti") if isinstance(context, dict) else None
    if ti is not None and getattr(ti, "xcom", None):
        seen.append(json.dumps(ti.xcom, default=str))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    texts = [*item.stash.get(_SEEN, []), report.capstdout, report.capstderr, report.caplog]
    if report.longrepr is not None:
        texts.append(str(report.longrepr))
    leaks = find_leaks(texts)
    if leaks:
        report.outcome = "failed"
        report.longrepr = f"secret leaked (phase: {report.when}):\n" + "\n".join(leaks[:10])

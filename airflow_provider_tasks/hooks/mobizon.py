"""Hook for Mobizon's TaskQueue API (SPEC §5.3).

Mobizon takes its API key as the ``apiKey`` query parameter, so the key is part of every request URL:
the hook never logs a URL, the package's log filter redacts the key from urllib3/aiohttp records, and
every error message is redacted before it is raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_tasks import rate_limit
from airflow_provider_tasks.exceptions import (
    RemoteApiError,
    RemoteAuthError,
    RemoteError,
    RemoteTaskNotFound,
    RemoteTransientError,
)
from airflow_provider_tasks.hooks.base import (
    ApiCall,
    ApiResponse,
    ConnectionSettings,
    PreparedRequest,
    RemoteTaskHook,
)
from airflow_provider_tasks.states import RemoteState, TaskSnapshot, map_status
from airflow_provider_tasks.validation import require_positive_int

__all__ = ["TASK_STATUS_STATES", "MobizonHook", "ServerHandOff"]

#: GetStatus ``status`` → normalized state (0 waiting, 1 in progress, 2 completed, 3 rejected).
TASK_STATUS_STATES: dict[int, RemoteState] = {
    0: RemoteState.PENDING,
    1: RemoteState.RUNNING,
    2: RemoteState.SUCCEEDED,
    3: RemoteState.FAILED,
}
#: GetStatus ``status`` in the service's own words, for logs.
TASK_STATUS_LABELS: dict[int, str] = {0: "waiting", 1: "in progress", 2: "completed", 3: "rejected"}
_OK = {0, 100}  # 100: "sent to background", data is the new task id
_WRONG_SERVER = 13
_RATE_LIMITED = 30
_RATE_LIMIT_WINDOW = 1.0
# Sent 1.0 s apart, two calls may still arrive closer than that: keep a margin for network jitter.
_CALL_SPACING = 1.05


class ServerHandOff(RemoteError):
    """Code 13: the account lives on another regional server; ``base_url`` is the one Mobizon names."""

    def __init__(self, service: str, base_url: str, *, item_id: object | None = None) -> None:
        super().__init__(service, f"account served by {base_url}", item_id=item_id, code=13)
        self.base_url = base_url


#: Second-level labels under which a country registry sells domains (``mobizon.com.br``).
_GENERIC_SECOND_LEVELS = frozenset({"com", "co", "net", "org"})


def _is_mobizon_api_host(host: str) -> bool:
    """``api.mobizon.<tld>`` (``.kz``, ``.ua``, ``.gmbh``, ...) or ``api.mobizon.<com|co|net|org>.<cc>``
    (``.com.br``): Mobizon's regional API servers. Nothing may follow the suffix: ``api.mobizon.kz.example``
    is a host of ``example``'s owner, who must never see the key."""
    labels = host.lower().removesuffix(".").split(".")
    if len(labels) < 3 or labels[:2] != ["api", "mobizon"] or not all(label.isalpha() for label in labels[2:]):
        return False
    suffix = labels[2:]
    return len(suffix) == 1 or (len(suffix) == 2 and suffix[0] in _GENERIC_SECOND_LEVELS and len(suffix[1]) == 2)


def _as_int(value: Any) -> int | None:
    """Mobizon sends numbers as strings ("40") as often as not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


class MobizonHook(RemoteTaskHook):
    """Talks to Mobizon's ``TaskQueue/GetStatus``.

    The connection's host is the API domain of the account's region (default
    ``https://api.mobizon.kz``); the password is the API key. When Mobizon answers code 13 (the account
    lives on another regional server) the hook follows the domain it names, once, and logs it.

    :param mobizon_conn_id: Airflow connection id (default ``mobizon_default``).
    """

    service_name = "Mobizon"
    conn_type = "mobizon"
    conn_name_attr = "mobizon_conn_id"
    default_conn_name = "mobizon_default"
    hook_name = "Mobizon"
    default_host = "https://api.mobizon.kz"
    error_codes = {
        2: RemoteTaskNotFound,
        8: RemoteAuthError,  # authorization failed
        9: RemoteAuthError,  # method access error
        14: RemoteAuthError,  # account blocked
        10: RemoteTransientError,  # concurrent update
        _RATE_LIMITED: RemoteTransientError,
        999: RemoteTransientError,  # service error
    }
    expected_retry_codes = frozenset({_RATE_LIMITED})
    error_hints = {
        1: "validation error — a parameter was refused; check the task id",
        2: "not found — check the task id, and that it belongs to the API key's account",
        3: "application error at Mobizon — try again later, or ask Mobizon's support",
        4: "module not found — check that the connection's host is Mobizon's API domain",
        5: "method not found — check that the connection's host is Mobizon's API domain",
        6: "unsupported output format — check that the connection's host is Mobizon's API domain",
        8: "authorization failed — check the connection's password, the API key",
        9: "method access denied — this API key may not call this method; check its permissions",
        10: "concurrent update — retried",
        11: "required parameters missing — check the task id",
        12: "a parameter has an invalid value — check the task id",
        _WRONG_SERVER: "account on another regional server — set the connection's host to your region's API domain",
        14: "account blocked — contact Mobizon's support",
        15: "operation could not be completed — try again later",
        _RATE_LIMITED: "rate limit, one GetStatus per second per API key — retried; fewer concurrent waits "
        "per key or a longer poke_interval avoid it",
        98: "the bulk operation partly failed",
        99: "nothing was done",
        999: "service error at Mobizon — retried; if it persists, ask Mobizon's support",
    }

    def __init__(self, mobizon_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(mobizon_conn_id, **kwargs)

    # ------------------------------------------------------------------ wire format
    def _prepare(self, settings: ConnectionSettings, call: ApiCall) -> PreparedRequest:
        return PreparedRequest(
            method=call.method,
            url=f"{settings.base_url}/service/{call.path.lstrip('/')}",
            params={"output": "json", "api": "v1", "apiKey": settings.secret},
            headers={"Accept": "application/json"},
            form=dict(call.form or {}),
        )

    async def _asend(self, settings: ConnectionSettings, call: ApiCall) -> ApiResponse:
        # Every async call of one key on this event loop (all triggers, retries included) is spaced
        # by the API's one-call-per-second limit, in arrival order.
        limiter = rate_limit.for_key((settings.base_url, hash(settings.secret)), _CALL_SPACING)
        await limiter.wait()
        return await super()._asend(settings, call)

    def _decode(self, call: ApiCall, response: ApiResponse) -> Any:
        if response.status >= 500 or response.status == 429 or not response.body.strip():
            self._raise_for_http(call, response)
        body = self._json_or_transient(call, response)
        code = _as_int(body.get("code")) if isinstance(body, dict) else None
        if code is None:
            self._raise_for_http(call, response)
            raise RemoteApiError(
                self.service_name,
                f"answer without a 'code': {response.text_excerpt()!r}",
                item_id=call.item_id,
            )
        data = body.get("data")
        if code in _OK:
            return data
        message = str(body.get("message") or "")
        if code == _WRONG_SERVER:
            raise ServerHandOff(self.service_name, self._server_url(data, message), item_id=call.item_id)
        # Code 30 is the one-call-per-second limit: retrying sooner cannot succeed.
        self._raise_for_code(call, code, message, retry_after=_RATE_LIMIT_WINDOW if code == _RATE_LIMITED else None)

    def _redirect(
        self, call: ApiCall, error: RemoteError, settings: ConnectionSettings, followed: int
    ) -> ConnectionSettings | None:
        if not isinstance(error, ServerHandOff):
            return None
        if followed:
            raise RemoteApiError(
                self.service_name, f"sent to another server twice ({error.base_url})", item_id=call.item_id, code=13
            ) from None
        target = urlsplit(error.base_url)
        own = urlsplit(settings.base_url)
        if target.scheme not in ("https", "http") or not target.hostname:
            raise RemoteApiError(
                self.service_name, f"code 13 names no usable server: {error.base_url!r}", item_id=call.item_id, code=13
            ) from None
        # The API key travels in the URL: only Mobizon's own API servers, over https, or this
        # connection's own host may see it.
        own_host = target.netloc.lower() == own.netloc.lower()
        if not own_host and not (_is_mobizon_api_host(target.hostname) and target.scheme == "https"):
            why = (
                "not over https"
                if _is_mobizon_api_host(target.hostname)
                else "not a Mobizon API server (api.mobizon.*)"
            )
            raise RemoteApiError(
                self.service_name,
                f"code 13 hands this account to {target.netloc!r}, which is {why}; the API key was not "
                "sent there. Set the connection's host to your region's API domain",
                item_id=call.item_id,
                code=13,
            ) from None
        self.log.warning(
            "%s moved this account to %s (code 13); following it for the rest of this hook's calls",
            self.service_name,
            error.base_url,
        )
        return replace(settings, base_url=error.base_url.rstrip("/"))

    def _server_url(self, data: Any, message: str) -> str:
        domain = data.get("domain") if isinstance(data, dict) else data
        if not isinstance(domain, str) or not domain.strip():
            raise RemoteApiError(self.service_name, f"wrong regional server, and no domain given: {message}", code=13)
        domain = domain.strip()
        if "://" not in domain:  # a bare domain: https, unless it is this connection's own host
            current = urlsplit(self._settings.base_url if self._settings else self.default_host)
            own = domain.split("/", 1)[0].lower() == current.netloc.lower()
            domain = f"{current.scheme if own else 'https'}://{domain}"
        return domain

    def _status_call(self, task_id: int) -> ApiCall:
        def extract(data: Any) -> dict[str, Any]:
            if not isinstance(data, dict):
                raise RemoteApiError(self.service_name, f"GetStatus returned {data!r}", item_id=task_id)
            result = dict(data)
            for key in ("progress", "status"):
                number = _as_int(data.get(key))
                if number is None:
                    raise RemoteApiError(
                        self.service_name,
                        f"GetStatus {key} is not a number: {data.get(key)!r}",
                        item_id=task_id,
                    )
                result[key] = number
            return result

        return ApiCall("POST", "taskqueue/getstatus", item_id=task_id, form={"id": str(task_id)}, extract=extract)

    # ------------------------------------------------------------------ public API
    def get_task_status(self, task_id: int) -> dict[str, Any]:
        """Return ``{"progress": int, "status": int, ...}`` of the background task (numbers coerced)."""
        task_id = require_positive_int("mobizon_task_id", task_id)
        return dict(self.call(self._status_call(task_id)))

    async def aget_task_status(self, task_id: int) -> dict[str, Any]:
        """Async counterpart of :meth:`get_task_status`."""
        task_id = require_positive_int("mobizon_task_id", task_id)
        return dict(await self.acall(self._status_call(task_id)))

    # ------------------------------------------------------------------ waiting
    def snapshot(self, item_id: str | int, remote: Mapping[str, Any]) -> TaskSnapshot:
        raw_status = remote.get("status")
        status = _as_int(raw_status)
        state = map_status(self.service_name, item_id, raw_status if status is None else status, TASK_STATUS_STATES)
        message = "task rejected by Mobizon" if state is RemoteState.FAILED else None
        label = TASK_STATUS_LABELS.get(status) if status is not None else None
        return TaskSnapshot(
            self.service_name,
            item_id,
            state,
            remote,
            progress=_as_int(remote.get("progress")),
            message=message,
            remote_status=f'status {status} "{label}"' if label else f"status {raw_status!r}",
        )

    def get_snapshot(self, item_id: str | int, **kwargs: Any) -> TaskSnapshot:
        return self.snapshot(item_id, self.get_task_status(int(item_id)))

    async def aget_snapshot(self, item_id: str | int, **kwargs: Any) -> TaskSnapshot:
        return self.snapshot(item_id, await self.aget_task_status(int(item_id)))

    def _test_call(self) -> ApiCall:
        return ApiCall("POST", "user/getownbalance", form={})

    def _test_result(self, result: Any) -> str:
        return "Connected to Mobizon"

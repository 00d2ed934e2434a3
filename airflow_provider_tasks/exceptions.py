"""The errors this provider raises.

Every message names the service, the id concerned, and the service's own code and message (verbatim,
in ``remote_message``), followed by a short English explanation of the code where the hook knows one
(``hint``), and never contains a secret. ``RemoteTaskFailed`` is an ``AirflowFailException``: the remote task ended in
failure and retrying the Airflow task cannot change that.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

__all__ = [
    "RemoteApiError",
    "RemoteAuthError",
    "RemoteError",
    "RemoteTaskFailed",
    "RemoteTaskNotFound",
    "RemoteTransientError",
]


def _describe(
    service: str, item_id: object | None, code: object | None, message: str | None, hint: str | None = None
) -> str:
    parts = [service]
    if item_id is not None:
        parts.append(f"id {item_id!r}")
    if code is not None:
        parts.append(f"code {code}")
    text = ", ".join(parts)
    if message and hint:
        return f"{text}: {message} ({hint})"
    return f"{text}: {message or hint}" if message or hint else text


class RemoteError(AirflowException):
    """Base class of every error that comes from (or about) a remote service.

    :param service: display name of the service, e.g. ``"Mobizon"``.
    :param item_id: the task/job id concerned, when there is one.
    :param code: the service's own error code (or the HTTP status when the service gave none).
    :param message: the service's own message, or what went wrong.
    :param hint: a short English explanation of ``code`` and what to check, appended to the message.
    """

    def __init__(
        self,
        service: str,
        message: str | None = None,
        *,
        item_id: object | None = None,
        code: object | None = None,
        details: Any = None,
        hint: str | None = None,
    ) -> None:
        self.service = service
        self.item_id = item_id
        self.code = code
        self.remote_message = message
        self.details = details
        self.hint = hint
        #: Set when the error answered a retry: the earlier, unanswered try may have taken effect.
        self.after_retry = False
        super().__init__(_describe(service, item_id, code, message, hint))

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps the keyword-only arguments when the error crosses a process boundary (pickling).
        return (
            _rebuild,
            (type(self), self.service, self.remote_message, self.item_id, self.code, self.details, self.hint),
        )


def _rebuild(
    cls: type[RemoteError],
    service: str,
    message: str | None,
    item_id: object,
    code: object,
    details: Any,
    hint: str | None = None,
) -> RemoteError:
    return cls(service, message, item_id=item_id, code=code, details=details, hint=hint)


class RemoteTaskFailed(RemoteError, AirflowFailException):
    """The remote task/job reached a failure terminal status (or failed rows were refused).

    ``details`` holds the final remote object so that callbacks can inspect it.
    """


class RemoteTaskNotFound(RemoteError):
    """The service does not know the task/job id (Post-e-Ketab 362, OpenReplay 404, Mobizon 2)."""


class RemoteAuthError(RemoteError):
    """The service refused the credentials (bad token/key, expired session, no permission, blocked)."""


class RemoteApiError(RemoteError):
    """Any other refusal by the service; ``code`` holds the service's code."""


class RemoteTransientError(RemoteError):
    """A failure worth retrying: network errors, timeouts, 5xx, 429, rate limits, internal errors.

    ``retry_after`` is the delay in seconds the service asked for, when it said one.
    Raised to the caller only once the retry budget is spent.
    """

    def __init__(
        self,
        service: str,
        message: str | None = None,
        *,
        item_id: object | None = None,
        code: object | None = None,
        details: Any = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(service, message, item_id=item_id, code=code, details=details, hint=hint)
        self.retry_after = retry_after

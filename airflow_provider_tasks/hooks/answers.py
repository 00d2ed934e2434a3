"""Reading a service's answers: JSON or not, the service's own error codes, what an HTTP status means.

:class:`AnswerChecks` is what each hook's ``_decode`` builds on; it raises the errors of
:mod:`airflow_provider_tasks.exceptions`, with the service's own words kept verbatim and, for the codes
the service documents, an English explanation (``error_hints``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow_provider_tasks.exceptions import (
    RemoteApiError,
    RemoteAuthError,
    RemoteError,
    RemoteTaskNotFound,
    RemoteTransientError,
)
from airflow_provider_tasks.redaction import redact
from airflow_provider_tasks.retry import parse_retry_after

if TYPE_CHECKING:
    from airflow_provider_tasks.hooks.connection import ConnectionSettings
    from airflow_provider_tasks.hooks.transport import ApiCall, ApiResponse

__all__ = ["AnswerChecks"]


class AnswerChecks:
    """The checks every service's ``_decode`` uses (a base of :class:`~.base.RemoteTaskHook`)."""

    service_name: ClassVar[str]
    #: The service's own error codes and the error each means; any other code is a RemoteApiError.
    error_codes: ClassVar[Mapping[int, type[RemoteError]]] = {}
    #: A short English explanation of each code SPEC §5 lists and what to check, appended to the
    #: service's own message (which is kept verbatim).
    error_hints: ClassVar[Mapping[int, str]] = {}
    _settings: ConnectionSettings | None

    def _json_or_transient(self, call: ApiCall, response: ApiResponse) -> Any:
        """Decode a JSON body; a proxy page or a cut-off body is a transport error (retried), except
        under a 4xx status, which says what went wrong by itself."""
        try:
            return response.json(call.stream_array)
        except (ValueError, UnicodeDecodeError):
            if 400 <= response.status < 500 and response.status not in (408, 429):
                self._raise_for_http(call, response)
            kind = response.header("Content-Type") or "unknown content type"
            raise RemoteTransientError(
                self.service_name,
                f"HTTP {response.status} with a body that is not JSON ({kind}): {response.text_excerpt()!r}",
                item_id=call.item_id,
                code=response.status,
            ) from None

    def _raise_for_code(self, call: ApiCall, code: int, message: str, *, retry_after: float | None = None) -> NoReturn:
        """Raise the error the service's own ``code`` means (see :attr:`error_codes`), with the
        service's message and the code's explanation (:attr:`error_hints`)."""
        error_class = self.error_codes.get(code, RemoteApiError)
        hint = self.error_hints.get(code)
        message = redact(message)
        if error_class is RemoteTransientError:
            raise RemoteTransientError(
                self.service_name, message, item_id=call.item_id, code=code, hint=hint, retry_after=retry_after
            )
        raise error_class(self.service_name, message, item_id=call.item_id, code=code, hint=hint)

    def _raise_for_http(
        self, call: ApiCall, response: ApiResponse, message: str | None = None, *, enveloped: bool = False
    ) -> None:
        """Raise the error an HTTP status means. ``enveloped``: the body is the service's own error answer;
        otherwise (a proxy page, another server) a refusal names the base URL, which is likely wrong."""
        status = response.status
        if status < 400:
            return
        text = message or response.text_excerpt() or f"HTTP {status}"
        if status == 429 or status >= 500 or status == 408:
            raise RemoteTransientError(
                self.service_name,
                text,
                item_id=call.item_id,
                code=status,
                retry_after=parse_retry_after(response.header("Retry-After")),
            )
        if not enveloped:
            # Not the service's own answer: a 404 here means a wrong base URL, not a missing task.
            kind = response.header("Content-Type") or "no content type"
            base = self._settings.base_url if self._settings else "not read yet"
            where = f"HTTP {status} from {response.url or 'the server'} without {self.service_name}'s answer format"
            detail = f"{where} ({kind}: {response.text_excerpt(120)!r})"
            if status in (401, 403):
                raise RemoteAuthError(
                    self.service_name,
                    f"{detail}: the credentials were refused; check the connection's password, and that its "
                    f"base URL ({base}) is {self.service_name}'s",
                    item_id=call.item_id,
                    code=status,
                )
            raise RemoteApiError(
                self.service_name,
                f"{detail}; check the connection's base URL ({base})",
                item_id=call.item_id,
                code=status,
            )
        hint = self.error_hints.get(status)
        if status in (401, 403):
            raise RemoteAuthError(self.service_name, text, item_id=call.item_id, code=status, hint=hint)
        if status == 404:
            raise RemoteTaskNotFound(self.service_name, text, item_id=call.item_id, code=status, hint=hint)
        raise RemoteApiError(self.service_name, text, item_id=call.item_id, code=status, hint=hint)

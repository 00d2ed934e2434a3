"""What the three hooks share: connection settings, the HTTP round trip (sync and async), retries.

A service hook describes each API method as an :class:`ApiCall` (what to send, and how to pull the
result out of the decoded payload) and implements :meth:`RemoteTaskHook._prepare` (where its
credentials go) and :meth:`RemoteTaskHook._decode` (its envelope and error codes). This class turns
that into one blocking call over a reused ``requests.Session`` and one ``async`` call over aiohttp,
with the same retry policy, the same errors and the same redaction on both paths.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any, ClassVar, NoReturn
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_tasks import http_client, json_stream
from airflow_provider_tasks._compat import expose_connection_form
from airflow_provider_tasks.connection_forms import CONNECTION_TYPES, DEFAULT_TIMEOUT
from airflow_provider_tasks.exceptions import (
    RemoteApiError,
    RemoteAuthError,
    RemoteError,
    RemoteTaskNotFound,
    RemoteTransientError,
)
from airflow_provider_tasks.redaction import install_log_filter, redact, register_secret
from airflow_provider_tasks.retry import RetryPolicy, parse_retry_after
from airflow_provider_tasks.states import TaskSnapshot

if TYPE_CHECKING:
    import aiohttp
    import requests
    from airflow.providers.common.compat.sdk import Connection

__all__ = [
    "ApiCall",
    "ApiResponse",
    "ConnectionSettings",
    "PreparedRequest",
    "RemoteTaskHook",
    "ServerHandOff",
]

install_log_filter()

#: First backoff delay in seconds when a hook is not given ``retry_delay`` (read at hook creation).
DEFAULT_RETRY_DELAY = 1.0
#: Tries of one call when a hook is not given ``retry_limit``.
DEFAULT_RETRY_LIMIT = 5
#: Requests one poll round may have in flight at once when it reads tasks one by one.
POLL_CONCURRENCY = 50
#: A spooled body (see ``ApiCall.stream_array``) stays in memory up to this size, then goes to disk.
SPOOL_MEMORY_BYTES = 1 << 20
SPOOL_CHUNK_BYTES = 1 << 16
SPOOL_HEAD_BYTES = 4096


def _identity(payload: Any) -> Any:
    return payload


@dataclass(frozen=True)
class ApiCall:
    """One API method: what to send and how to turn the decoded payload into the result.

    :param method: HTTP method.
    :param path: path below the connection's base URL (no leading slash needed).
    :param item_id: the task/job id concerned, named in every error.
    :param params: query parameters (never credentials; those are added by ``_prepare``).
    :param json_body: a JSON body.
    :param form: a form-encoded body.
    :param extract: maps the payload returned by ``_decode`` to the method's result.
    :param stream_array: keys leading to an array of the JSON body that may be too big for memory:
        the blocking transport spools the body to a temporary file and the decoded body holds a
        :class:`~airflow_provider_tasks.json_stream.StreamedArray` there (which the caller closes).
    """

    method: str
    path: str
    item_id: object | None = None
    params: Mapping[str, str] | None = None
    json_body: Any = None
    form: Mapping[str, str] | None = None
    extract: Callable[[Any], Any] = _identity
    stream_array: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PreparedRequest:
    """A call ready for the wire. ``url`` never holds a secret; ``params`` may (Mobizon)."""

    method: str
    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    form: Mapping[str, str] | None = None


@dataclass(frozen=True)
class ApiResponse:
    """The raw answer, identical for the sync and the async transport.

    ``spool``, for a call with ``stream_array``, is the whole body in a temporary file; ``body`` then
    holds only its first bytes (enough for error messages).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    spool: IO[bytes] | None = None

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def text_excerpt(self, limit: int = 200) -> str:
        text = self.body[:limit].decode("utf-8", errors="replace").strip()
        return redact(" ".join(text.split()))


@dataclass(frozen=True)
class ConnectionSettings:
    """What a hook needs from its Airflow connection, validated once."""

    conn_id: str
    base_url: str
    secret: str
    timeout: float
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # the secret must never reach a repr
        return f"ConnectionSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, secret='***')"


class ServerHandOff(RemoteError):
    """The service says the account lives on another server (Mobizon code 13); ``base_url`` is it."""

    def __init__(self, service: str, base_url: str, *, item_id: object | None = None) -> None:
        super().__init__(service, f"account served by {base_url}", item_id=item_id, code=13)
        self.base_url = base_url


class RemoteTaskHook(BaseHook):
    """Base of the three service hooks.

    :param conn_id: the Airflow connection id (subclasses take it as ``<service>_conn_id``).
    :param timeout: seconds per HTTP request; overrides the connection's ``timeout`` extra.
    :param retry_limit: tries of one call on transient failures, the first included (default 5).
    :param retry_delay: first backoff delay in seconds (default 1; doubles, capped at 30 s, with jitter).
    """

    service_name: ClassVar[str]
    conn_type: ClassVar[str]
    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    hook_name: ClassVar[str]
    default_host: ClassVar[str]
    #: The service's own error codes and the error each means; any other code is a RemoteApiError.
    error_codes: ClassVar[Mapping[int, type[RemoteError]]] = {}

    def __init__(
        self,
        conn_id: str,
        *,
        timeout: float | None = None,
        retry_limit: int | None = None,
        retry_delay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(conn_id, str) or not conn_id.strip():
            raise ValueError(f"{self.conn_name_attr} must be a non-empty connection id, got {conn_id!r}")
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.conn_id = conn_id
        self.timeout_override = timeout
        self.retry_policy = RetryPolicy(
            attempts=DEFAULT_RETRY_LIMIT if retry_limit is None else retry_limit,
            base_delay=DEFAULT_RETRY_DELAY if retry_delay is None else retry_delay,
        )
        self._settings: ConnectionSettings | None = None
        self._session: requests.Session | None = None
        self._async_session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.conn_name_attr}={self.conn_id!r})"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "conn_type" in vars(cls):  # a service hook: Airflow 2.11's UI reads the form from it alone
            expose_connection_form(cls, RemoteTaskHook)

    # ------------------------------------------------------------------ connection form (Airflow 2.11 UI)
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide the generic connection fields (read by the Airflow 2.11 UI).

        The provider info's ``ui-field-behaviour`` in the hook API's spelling (``hidden_fields``), as
        Airflow 3.2+ converts it itself.
        """
        behaviour = CONNECTION_TYPES[cls.conn_type]["ui-field-behaviour"]
        return {
            "hidden_fields": list(behaviour.get("hidden-fields", [])),
            "relabeling": dict(behaviour.get("relabeling", {})),
            "placeholders": dict(behaviour.get("placeholders", {})),
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (read by the Airflow 2.11 UI)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import StringField

        fields = CONNECTION_TYPES[cls.conn_type]["conn-fields"]
        return {
            name: StringField(
                lazy_gettext(spec["label"]), widget=BS3TextFieldWidget(), description=spec.get("description")
            )
            for name, spec in fields.items()
        }

    # ------------------------------------------------------------------ settings
    def _settings_from(self, conn: Connection, extras: Mapping[str, Any]) -> ConnectionSettings:
        host = (conn.host or "").strip() or self.default_host
        if "://" not in host:
            host = f"https://{host}"
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in host):
            raise ValueError(f"Connection {self.conn_id!r}: host must be an http(s) base URL, got {conn.host!r}")
        if conn.port and not parts.port:
            host = f"{parts.scheme}://{parts.hostname}:{conn.port}{parts.path}"
        secret = conn.password or ""
        if not secret.strip():
            raise ValueError(
                f"Connection {self.conn_id!r} has no password: put the {self.service_name} "
                f"{CONNECTION_TYPES[self.conn_type]['ui-field-behaviour']['relabeling']['password']} there"
            )
        register_secret(secret)
        timeout = self.timeout_override
        if timeout is None:
            raw = extras.get("timeout")
            try:
                timeout = DEFAULT_TIMEOUT if raw in (None, "") else float(raw)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Connection {self.conn_id!r}: extra 'timeout' must be a number of seconds, got {raw!r}"
                ) from None
            if timeout <= 0:
                raise ValueError(f"Connection {self.conn_id!r}: extra 'timeout' must be > 0, got {raw!r}")
        return ConnectionSettings(
            conn_id=self.conn_id,
            base_url=host.rstrip("/"),
            secret=secret.strip(),
            timeout=float(timeout),
            extras=self._validate_extras(extras),
        )

    def _validate_extras(self, extras: Mapping[str, Any]) -> Mapping[str, Any]:
        """Check and normalise the service's own extras; raise ValueError naming a bad one."""
        return dict(extras)

    @property
    def settings(self) -> ConnectionSettings:
        """The validated connection settings (read from Airflow once per hook)."""
        if self._settings is None:
            conn = self.get_connection(self.conn_id)
            self._settings = self._settings_from(conn, conn.extra_dejson)
        return self._settings

    async def asettings(self) -> ConnectionSettings:
        """Async counterpart of :attr:`settings`, safe inside the triggerer's event loop."""
        if self._settings is None:
            from airflow.providers.common.compat.connection import get_async_connection

            conn = await get_async_connection(self.conn_id, hook=self)
            try:
                from airflow.providers.common.compat.connection import get_async_extra_dejson

                extras = await get_async_extra_dejson(conn)
            except ImportError:  # older common-compat
                extras = conn.extra_dejson
            self._settings = self._settings_from(conn, extras)
        return self._settings

    # ------------------------------------------------------------------ what each service defines
    def _prepare(self, settings: ConnectionSettings, call: ApiCall) -> PreparedRequest:
        """Build the request for ``call``, credentials included."""
        raise NotImplementedError

    def _decode(self, call: ApiCall, response: ApiResponse) -> Any:
        """Check the service's envelope; return its payload or raise the matching RemoteError."""
        raise NotImplementedError

    def snapshot(self, item_id: str | int, remote: Mapping[str, Any]) -> TaskSnapshot:
        """Map a remote task/job object onto the normalized state model."""
        raise NotImplementedError

    def get_snapshot(self, item_id: str | int, **kwargs: Any) -> TaskSnapshot:
        """Read the task/job once and return its normalized snapshot."""
        raise NotImplementedError

    async def aget_snapshot(self, item_id: str | int, **kwargs: Any) -> TaskSnapshot:
        """Async counterpart of :meth:`get_snapshot`."""
        raise NotImplementedError

    async def apoll_many(
        self, item_ids: Sequence[str | int], **fetch_kwargs: Any
    ) -> dict[str | int, TaskSnapshot | BaseException]:
        """Read several tasks' statuses at once, for the coalescing pollers of the triggers.

        Each id maps to its snapshot or to the error reading it met. This default reads each task
        (concurrently, bounded); services with a list endpoint override it to need fewer requests.
        """
        semaphore = asyncio.Semaphore(POLL_CONCURRENCY)

        async def one(item_id: str | int) -> tuple[str | int, TaskSnapshot | BaseException]:
            async with semaphore:
                try:
                    return item_id, await self.aget_snapshot(item_id, **fetch_kwargs)
                except (RemoteError, ValueError) as error:
                    return item_id, error

        return dict(await asyncio.gather(*(one(item_id) for item_id in item_ids)))

    def web_url(self, item_id: str | int | None = None, **kwargs: Any) -> str | None:
        """Address of the service's web UI for the extra link, when it has one."""
        parts = urlsplit(self.settings.base_url)
        host = parts.netloc.removeprefix("api.")
        return f"{parts.scheme}://{host}"

    # ------------------------------------------------------------------ shared decoding helpers
    def _json_or_transient(self, call: ApiCall, response: ApiResponse) -> Any:
        """Decode a JSON body; a proxy page or a cut-off body is a transport error (retried), except
        under a 4xx status, which says what went wrong by itself."""
        try:
            if response.spool is not None and call.stream_array:
                return json_stream.load(response.spool, call.stream_array)
            return json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            # A refusal is still a refusal when a proxy words it in HTML: the status decides.
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
        """Raise the error the service's own ``code`` means (see :attr:`error_codes`)."""
        error_class = self.error_codes.get(code, RemoteApiError)
        if error_class is RemoteTransientError:
            raise RemoteTransientError(
                self.service_name, message, item_id=call.item_id, code=code, retry_after=retry_after
            )
        raise error_class(self.service_name, message, item_id=call.item_id, code=code)

    def _raise_for_http(self, call: ApiCall, response: ApiResponse, message: str | None = None) -> None:
        """Raise the error an HTTP status means by itself (used where the body says nothing more)."""
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
        if status in (401, 403):
            raise RemoteAuthError(self.service_name, text, item_id=call.item_id, code=status)
        if status == 404:
            raise RemoteTaskNotFound(self.service_name, text, item_id=call.item_id, code=status)
        raise RemoteApiError(self.service_name, text, item_id=call.item_id, code=status)

    # ------------------------------------------------------------------ the round trip
    def _recover(
        self, call: ApiCall, error: RemoteError, tries: list[int], settings: ConnectionSettings
    ) -> tuple[ConnectionSettings, float]:
        """Decide what follows a failed try: new settings and a delay, or re-raise ``error``.

        ``tries`` is ``[failures so far, server hand-offs followed]``, updated in place.
        """
        if isinstance(error, ServerHandOff):
            if tries[1]:
                raise RemoteApiError(
                    self.service_name,
                    f"sent to another server twice ({error.base_url})",
                    item_id=call.item_id,
                    code=13,
                ) from None
            tries[1] += 1
            return self._follow(settings, error), 0.0
        if not isinstance(error, RemoteTransientError):
            error.after_retry = tries[0] > 0
            raise error
        tries[0] += 1
        attempts = self.retry_policy.attempts
        if tries[0] >= attempts:
            raise error
        delay = self.retry_policy.delay(tries[0], error.retry_after)
        self.log.warning("%s (try %d of %d); retrying in %.1f s", error, tries[0], attempts, delay)
        return settings, delay

    def _follow(self, settings: ConnectionSettings, handoff: ServerHandOff) -> ConnectionSettings:
        self.log.warning(
            "%s moved this account to %s (code 13); following it for the rest of this hook's calls",
            self.service_name,
            handoff.base_url,
        )
        self._settings = replace(settings, base_url=handoff.base_url.rstrip("/"))
        return self._settings

    def _transport_error(self, call: ApiCall, error: BaseException) -> RemoteTransientError:
        # The library's message can carry the full URL, query string included: redact it.
        return RemoteTransientError(
            self.service_name,
            f"{type(error).__name__}: {redact(str(error)) or 'no detail'}",
            item_id=call.item_id,
        )

    def get_conn(self) -> requests.Session:
        """The reused ``requests.Session`` of this hook (credentials are added per request)."""
        return self._get_session()

    def _get_session(self) -> requests.Session:
        if self._session is None:
            # Imported here: DAG files import this package at every parse, and requests costs ~100 ms.
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = "airflow-provider-tasks"
        return self._session

    def _send(self, settings: ConnectionSettings, call: ApiCall) -> ApiResponse:
        import requests

        prepared = self._prepare(settings, call)
        try:
            resp = self._get_session().request(
                prepared.method,
                prepared.url,
                params=dict(prepared.params) or None,
                headers=dict(prepared.headers),
                json=prepared.json_body,
                data=dict(prepared.form) if prepared.form is not None else None,
                timeout=settings.timeout,
                allow_redirects=False,
                stream=call.stream_array is not None,
            )
            if call.stream_array is None:
                return ApiResponse(resp.status_code, dict(resp.headers), resp.content)
            with resp:
                spool = self._spool(resp)
            head = spool.read(SPOOL_HEAD_BYTES)  # what error messages quote
            spool.seek(0)
            return ApiResponse(resp.status_code, dict(resp.headers), head, spool)
        except requests.RequestException as error:
            raise self._transport_error(call, error) from None

    @staticmethod
    def _spool(resp: requests.Response) -> IO[bytes]:
        # Small bodies stay in memory; a big one goes to disk chunk by chunk, never whole in memory.
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (the caller closes it)
        try:
            for chunk in resp.iter_content(chunk_size=SPOOL_CHUNK_BYTES):
                spool.write(chunk)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool

    def call(self, call: ApiCall) -> Any:
        """Run ``call`` with retries and return its extracted result (blocking)."""
        settings = self.settings
        tries = [0, 0]
        while True:
            try:
                response = self._send(settings, call)
                try:
                    return call.extract(self._decode(call, response))
                except BaseException:
                    response.close()
                    raise
            except RemoteError as error:
                settings, delay = self._recover(call, error, tries, settings)
                time.sleep(delay)

    async def _get_async_session(self) -> aiohttp.ClientSession:
        # The event loop's shared session: pooled connections across every hook and trigger on it.
        if self._async_session is None or self._async_session.closed:
            self._async_session = http_client.acquire()
        return self._async_session

    async def _asend(self, settings: ConnectionSettings, call: ApiCall) -> ApiResponse:
        import aiohttp

        prepared = self._prepare(settings, call)
        session = await self._get_async_session()
        try:
            async with session.request(
                prepared.method,
                prepared.url,
                params=dict(prepared.params) or None,
                headers=dict(prepared.headers),
                json=prepared.json_body,
                data=dict(prepared.form) if prepared.form is not None else None,
                timeout=aiohttp.ClientTimeout(total=settings.timeout),
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                return ApiResponse(resp.status, dict(resp.headers), body)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise self._transport_error(call, error) from None

    async def acall(self, call: ApiCall) -> Any:
        """Async counterpart of :meth:`call` (never blocks the event loop)."""
        settings = await self.asettings()
        tries = [0, 0]
        while True:
            try:
                return call.extract(self._decode(call, await self._asend(settings, call)))
            except RemoteError as error:
                settings, delay = self._recover(call, error, tries, settings)
                await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Give back the event loop's shared HTTP session (the last user closes it)."""
        if self._async_session is not None:
            self._async_session = None
            await http_client.release()

    def close(self) -> None:
        """Close the blocking HTTP session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # ------------------------------------------------------------------ connection test
    def _test_call(self) -> ApiCall:
        """A cheap authenticated call proving URL and credentials."""
        raise NotImplementedError

    def _test_result(self, result: Any) -> str:
        return f"Connected to {self.service_name}"

    def test_connection(self) -> tuple[bool, str]:
        """Make one authenticated request and report (ok, message), as the UI's Test button expects."""
        try:
            result = self.call(self._test_call())
        except (RemoteError, ValueError) as error:
            return False, redact(str(error))
        except Exception as error:  # the UI wants a message, not a traceback
            return False, redact(f"{type(error).__name__}: {error}")
        return True, self._test_result(result)

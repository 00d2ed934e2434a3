"""The hook contract the three services share: settings, and one call with retries on two transports.

A service hook describes each API method as an :class:`~.transport.ApiCall` and implements
:meth:`RemoteTaskHook._prepare` (where its credentials go) and :meth:`RemoteTaskHook._decode` (its
envelope and error codes, with :class:`~.answers.AnswerChecks`). This class runs a call over the
blocking or the async transport with the same retry policy, the same errors and the same redaction on
both paths, and defines what the waits need of every service (:meth:`~RemoteTaskHook.get_snapshot`,
:meth:`~RemoteTaskHook.apoll_many`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_tasks import connection_forms
from airflow_provider_tasks._compat import expose_connection_form
from airflow_provider_tasks.connection_forms import CONNECTION_TYPES
from airflow_provider_tasks.exceptions import (
    RemoteApiError,
    RemoteError,
    RemoteTransientError,
)
from airflow_provider_tasks.hooks.answers import AnswerChecks
from airflow_provider_tasks.hooks.connection import ConnectionSettings, read_settings
from airflow_provider_tasks.hooks.transport import (
    ApiCall,
    ApiResponse,
    AsyncTransport,
    BlockingTransport,
    PreparedRequest,
    TransportFailure,
)
from airflow_provider_tasks.loop_logging import HeldLog
from airflow_provider_tasks.redaction import install_log_filter, redact
from airflow_provider_tasks.retry import RetryPolicy
from airflow_provider_tasks.states import TaskSnapshot

if TYPE_CHECKING:
    import requests
    from airflow.providers.common.compat.sdk import Connection

__all__ = ["ApiCall", "ApiResponse", "ConnectionSettings", "PreparedRequest", "RemoteTaskHook", "Tries", "Unlisted"]

install_log_filter()

#: First backoff delay in seconds when a hook is not given ``retry_delay`` (read at hook creation).
DEFAULT_RETRY_DELAY = 1.0
#: Tries of one call when a hook is not given ``retry_limit``.
DEFAULT_RETRY_LIMIT = 5
#: Requests one poll round may have in flight at once when it reads tasks one by one.
POLL_CONCURRENCY = 50


@dataclass
class Unlisted:
    """Waited items that the list pages worth reading did not show (a list service's ``apoll_many``
    reads them one by one instead), and for how many listening waits that was decided.

    Newer items only push them further down, so the decision stands, until the waits have doubled:
    waits arrive over time, and pages not worth reading for two waits are for two hundred (else the
    first waits would keep per-item reads on clocks of their own).
    """

    def __init__(self) -> None:
        self._items: set[Hashable] = set()
        self._decided_for = 0

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def reconsider(self, waits: int) -> None:
        """Forget the decision once ``waits`` listening waits are twice those it was made for."""
        if waits >= 2 * self._decided_for:
            self._items.clear()

    def decide(self, missing: Iterable[Hashable], waits: int) -> None:
        self._items.update(missing)
        self._decided_for = waits

    def discard(self, item: Hashable) -> None:
        """The item's wait ends: nothing reads it again."""
        self._items.discard(item)


class Tries:
    """What one call went through so far: transient failures, and redirections to another server;
    ``expected``/``expected_wait``: the failures of those that were an expected pace (see
    :attr:`RemoteTaskHook.expected_retry_codes`) and the seconds waited after them."""

    failures: int = 0
    redirects: int = 0
    expected: int = 0
    expected_wait: float = 0.0
    expected_code: object = None


class RemoteTaskHook(AnswerChecks, BaseHook):
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
    #: Transient codes that are the service's normal pace (Mobizon 30, its one-call-per-second limit):
    #: retried like the others, but logged at debug level and summed up in one line per call.
    expected_retry_codes: ClassVar[frozenset[object]] = frozenset()

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
        self._blocking = BlockingTransport()
        self._async = AsyncTransport()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.conn_name_attr}={self.conn_id!r})"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "conn_type" in vars(cls):  # a service hook: Airflow 2.11's UI reads the form from it alone
            expose_connection_form(cls, RemoteTaskHook)

    # ------------------------------------------------------------------ connection form (Airflow 2.11 UI)
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide the generic connection fields (read by the Airflow 2.11 UI)."""
        return connection_forms.ui_field_behaviour(cls.conn_type)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (read by the Airflow 2.11 UI)."""
        return connection_forms.form_widgets(cls.conn_type)

    # ------------------------------------------------------------------ settings
    def _settings_from(self, conn: Connection, extras: Mapping[str, Any]) -> ConnectionSettings:
        return read_settings(
            conn,
            self._validate_extras(dict(extras)),
            conn_id=self.conn_id,
            conn_type=self.conn_type,
            default_host=self.default_host,
            password_label=CONNECTION_TYPES[self.conn_type]["ui-field-behaviour"]["relabeling"]["password"],
            service=self.service_name,
            timeout_override=self.timeout_override,
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
            # A synchronous get_connection() inside the triggerer's loop fails on Airflow 3 (apache/airflow#70398).
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

    def _redirect(
        self, call: ApiCall, error: RemoteError, settings: ConnectionSettings, followed: int
    ) -> ConnectionSettings | None:
        """Settings to send ``call`` to at once when ``error`` names another server (Mobizon), after
        ``followed`` such redirections of this call; None: ``error`` stands."""
        return None

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
        self, item_ids: Sequence[str | int], *, due: Collection[str | int] | None = None, **fetch_kwargs: Any
    ) -> dict[str | int, TaskSnapshot | BaseException]:
        """Read several tasks' statuses for the triggerer's shared poller.

        ``item_ids`` are every wait listening on the poller; ``due`` those whose interval has passed
        (None: all). Each id in the result maps to its snapshot or to the error reading it met; an id
        left out is not answered this round. Every due id must be answered. This default reads each
        due task (concurrently, bounded); services with a list endpoint answer every id the pages
        they read show, as a list costs the same whatever the number of waits it answers.
        """
        targets = list(item_ids) if due is None else [item_id for item_id in item_ids if item_id in due]
        semaphore = asyncio.Semaphore(POLL_CONCURRENCY)

        async def one(item_id: str | int) -> tuple[str | int, TaskSnapshot | BaseException]:
            async with semaphore:
                try:
                    return item_id, await self.aget_snapshot(item_id, **fetch_kwargs)
                except (RemoteError, ValueError) as error:
                    return item_id, error

        return dict(await asyncio.gather(*(one(item_id) for item_id in targets)))

    def web_url(self, item_id: str | int | None = None, **kwargs: Any) -> str | None:
        """Address of the service's web UI for the extra link, when it has one."""
        parts = urlsplit(self.settings.base_url)
        host = parts.netloc.removeprefix("api.")
        return f"{parts.scheme}://{host}"

    # ------------------------------------------------------------------ the round trip
    def _recover(
        self, call: ApiCall, error: RemoteError, tries: Tries, settings: ConnectionSettings, log: Any
    ) -> tuple[ConnectionSettings, float]:
        """Decide what follows a failed try: new settings and a delay, or re-raise ``error``; the retry
        line goes to ``log`` (the hook's own, or a :class:`HeldLog` in the async path)."""
        redirected = self._redirect(call, error, settings, tries.redirects)
        if redirected is not None:
            tries.redirects += 1
            self._settings = redirected
            return redirected, 0.0
        if not isinstance(error, RemoteTransientError) or not call.retry:
            error.after_retry = tries.failures > 0
            raise error
        tries.failures += 1
        attempts = self.retry_policy.attempts
        if tries.failures >= attempts:
            raise error
        delay = self.retry_policy.delay(tries.failures, error.retry_after)
        if error.code in self.expected_retry_codes:
            tries.expected += 1
            tries.expected_wait += delay
            tries.expected_code = error.code
            log.debug("%s (try %d of %d); retrying in %.1f s", error, tries.failures, attempts, delay)
        else:
            log.warning("%s (try %d of %d); retrying in %.1f s", error, tries.failures, attempts, delay)
        return settings, delay

    def _answered(self, call: ApiCall, tries: Tries, log: Any) -> None:
        """One line for the expected retries a call went through before its answer (none: silent)."""
        if tries.expected:
            about = f" for id {call.item_id!r}" if call.item_id is not None else ""
            log.info(
                "%s asked to slow down%s (code %s, %d time(s)); retried, %.1f s waited in all",
                self.service_name,
                about,
                tries.expected_code,
                tries.expected,
                tries.expected_wait,
            )

    def _transport_error(self, call: ApiCall, failure: TransportFailure, settings: ConnectionSettings) -> RemoteError:
        if failure.permanent:
            return RemoteApiError(
                self.service_name,
                f"{failure.detail} (base URL {settings.base_url}): {failure.hint}",
                item_id=call.item_id,
            )
        return RemoteTransientError(self.service_name, failure.detail, item_id=call.item_id)

    def get_conn(self) -> requests.Session:
        """The reused ``requests.Session`` of this hook (credentials are added per request)."""
        return self._blocking.session

    def _send(self, settings: ConnectionSettings, call: ApiCall) -> ApiResponse:
        try:
            return self._blocking.send(
                self._prepare(settings, call), timeout=settings.timeout, stream=call.stream_array is not None
            )
        except TransportFailure as failure:
            raise self._transport_error(call, failure, settings) from None

    def call(self, call: ApiCall) -> Any:
        """Run ``call`` with retries and return its extracted result (blocking)."""
        settings = self.settings
        tries = Tries()
        while True:
            try:
                response = self._send(settings, call)
                try:
                    result = call.extract(self._decode(call, response))
                except BaseException:
                    response.close()
                    raise
                self._answered(call, tries, self.log)
                return result
            except RemoteError as error:
                settings, delay = self._recover(call, error, tries, settings, self.log)
                time.sleep(delay)

    async def _asend(self, settings: ConnectionSettings, call: ApiCall) -> ApiResponse:
        try:
            return await self._async.send(
                self._prepare(settings, call), timeout=settings.timeout, stream_array=call.stream_array
            )
        except TransportFailure as failure:
            raise self._transport_error(call, failure, settings) from None

    async def acall(self, call: ApiCall) -> Any:
        """Async counterpart of :meth:`call` (never blocks the event loop)."""
        settings = await self.asettings()
        tries = Tries()
        held = HeldLog()
        while True:
            try:
                result = call.extract(self._decode(call, await self._asend(settings, call)))
                self._answered(call, tries, held)
                await held.write(self.log)
                return result
            except RemoteError as error:
                settings, delay = self._recover(call, error, tries, settings, held)
                await held.write(self.log)
                await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Give back the event loop's shared HTTP session (the last user closes it)."""
        await self._async.close()

    def close(self) -> None:
        """Close the blocking HTTP session."""
        self._blocking.close()

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

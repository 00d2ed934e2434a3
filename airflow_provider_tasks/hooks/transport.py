"""The HTTP round trip: what a call sends, what comes back, and the two transports that carry it.

A service hook describes each API method as an :class:`ApiCall`; its ``_prepare`` turns that into a
:class:`PreparedRequest` (credentials included), which :class:`BlockingTransport` (``requests``) or
:class:`AsyncTransport` (aiohttp, on the event loop's shared session) sends. Both return the same
:class:`ApiResponse` and raise the same :class:`TransportFailure`, so retries, decoding and errors
are written once, in :mod:`airflow_provider_tasks.hooks.base`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_tasks import json_stream
from airflow_provider_tasks.hooks import sessions
from airflow_provider_tasks.redaction import redact

if TYPE_CHECKING:
    import aiohttp
    import requests

__all__ = [
    "ApiCall",
    "ApiResponse",
    "AsyncTransport",
    "BlockingTransport",
    "PreparedRequest",
    "TransportFailure",
]

#: A spooled body (see ``ApiCall.stream_array``) stays in memory up to this size, then goes to disk.
SPOOL_MEMORY_BYTES = 1 << 20
SPOOL_CHUNK_BYTES = 1 << 16
SPOOL_HEAD_BYTES = 4096
#: Bodies up to this size are decoded in one go; bigger ones are walked item by item (see ``aload``).
SMALL_BODY_BYTES = 256 * 1024


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
    :param stream_array: keys leading to an array of the JSON body that may be too big for memory.
        The blocking transport spools the body to a temporary file and the decoded body holds a
        :class:`~airflow_provider_tasks.json_stream.StreamedArray` there (which the caller closes);
        the async transport drops the array's items (it only counts them) and never parses the
        whole body in one go on the event loop.
    :param retry: whether a transient failure may be retried by sending the call again. A call whose
        repetition could change what the first try did (a cancel) says False and decides itself.
    """

    method: str
    path: str
    item_id: object | None = None
    params: Mapping[str, str] | None = None
    json_body: Any = None
    form: Mapping[str, str] | None = None
    extract: Callable[[Any], Any] = _identity
    stream_array: tuple[str, ...] | None = None
    retry: bool = True


@dataclass(frozen=True)
class PreparedRequest:
    """A call ready for the wire. ``url`` never holds a secret; ``params`` may (Mobizon)."""

    method: str
    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    form: Mapping[str, str] | None = None

    def session_kwargs(self) -> dict[str, Any]:
        """What both HTTP clients take alike; redirects are never followed (a key must not travel on)."""
        return {
            "method": self.method,
            "url": self.url,
            "params": dict(self.params) or None,
            "headers": dict(self.headers),
            "json": self.json_body,
            "data": dict(self.form) if self.form is not None else None,
            "allow_redirects": False,
        }


@dataclass(frozen=True)
class ApiResponse:
    """The raw answer, identical for both transports.

    ``url`` is the address asked (never with its query string, where Mobizon's key travels).
    ``spool``, for a blocking call with ``stream_array``, is the whole body in a temporary file;
    ``body`` then holds only its first bytes (enough for error messages). ``decoded`` is set when the
    async transport already walked a big body off the hot path of ``json.loads``.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    spool: IO[bytes] | None = None
    decoded: Any = None
    url: str = ""

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

    def json(self, stream_array: tuple[str, ...] | None = None) -> Any:
        """The decoded JSON body (``ValueError`` when it is not JSON)."""
        if self.decoded is not None:
            return self.decoded
        if self.spool is not None and stream_array:
            return json_stream.load(self.spool, stream_array)
        return json.loads(self.body)


class TransportFailure(Exception):
    """The request got no HTTP answer. ``permanent`` failures (TLS, malformed URL) are not retried:
    sending the same request again cannot succeed."""

    def __init__(self, detail: str, *, permanent: bool, hint: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent
        self.hint = hint


_TLS_HINT = (
    "check the connection's base URL: its scheme (https vs http) and port must match the server, "
    "and the server's certificate must be valid for that host"
)
_URL_HINT = "check the connection's host, port and schema (path): they do not form a valid URL"


def _describe(error: BaseException) -> str:
    # The library's message can carry the full URL, query string included: redact it.
    return f"{type(error).__name__}: {redact(str(error)) or 'no detail'}"


class BlockingTransport:
    """Sends calls over one reused ``requests.Session`` (created on first use)."""

    def __init__(self) -> None:
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            # Imported here: DAG files import this package at every parse, and requests costs ~100 ms.
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = "airflow-provider-tasks"
        return self._session

    def send(self, prepared: PreparedRequest, *, timeout: float, stream: bool = False) -> ApiResponse:
        import requests
        from urllib3.exceptions import LocationValueError

        try:
            resp = self.session.request(**prepared.session_kwargs(), timeout=timeout, stream=stream)
            if not stream:
                return ApiResponse(resp.status_code, dict(resp.headers), resp.content, url=prepared.url)
            with resp:
                spool = self._spool(resp)
            head = spool.read(SPOOL_HEAD_BYTES)  # what error messages quote
            spool.seek(0)
            return ApiResponse(resp.status_code, dict(resp.headers), head, spool, url=prepared.url)
        except requests.exceptions.SSLError as error:
            raise TransportFailure(_describe(error), permanent=True, hint=_TLS_HINT) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, LocationValueError) as error:
            # urllib3 lets a host it cannot parse (an empty or over-long label) through requests unwrapped.
            raise TransportFailure(_describe(error), permanent=True, hint=_URL_HINT) from None
        except requests.RequestException as error:
            raise TransportFailure(_describe(error), permanent=False) from None

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

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


#: aiohttp once its import has *finished*. ``sys.modules`` is no such sign: a module is there from the
#: start of its import, so a second trigger starting meanwhile would import it on the loop, and wait
#: there on the import lock for the rest of it (seen as "async thread was blocked for 0.24 s").
_aiohttp: Any = None


async def _import_aiohttp() -> Any:
    """aiohttp, imported off the event loop the first time: the import takes ~0.2 s, which would hold
    a triggerer's loop past its "async thread was blocked" threshold. Concurrent first callers each
    wait in a worker thread, never on the loop."""
    global _aiohttp
    if _aiohttp is None:
        _aiohttp = await asyncio.to_thread(importlib.import_module, "aiohttp")
    return _aiohttp


class AsyncTransport:
    """Sends calls on the running event loop's shared aiohttp session (see :mod:`.sessions`)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = sessions.acquire()
        return self._session

    async def send(
        self, prepared: PreparedRequest, *, timeout: float, stream_array: tuple[str, ...] | None = None
    ) -> ApiResponse:
        aiohttp = await _import_aiohttp()
        session = self._get_session()
        try:
            async with session.request(
                **prepared.session_kwargs(), timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                if stream_array is None:
                    return ApiResponse(resp.status, dict(resp.headers), await resp.read(), url=prepared.url)
                return await self._read_big(resp, stream_array, prepared.url)
        except (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError) as error:
            raise TransportFailure(_describe(error), permanent=True, hint=_TLS_HINT) from None
        except (aiohttp.InvalidURL, UnicodeError) as error:  # UnicodeError: a host IDNA cannot encode
            raise TransportFailure(_describe(error), permanent=True, hint=_URL_HINT) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise TransportFailure(_describe(error), permanent=False) from None

    @staticmethod
    async def _read_big(resp: aiohttp.ClientResponse, path: tuple[str, ...], url: str) -> ApiResponse:
        """Read a body that may be huge without holding the loop: chunks go to a spool, and a big
        JSON body is walked item by item (yielding to the loop) with the array at ``path`` dropped."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (closed below)
        try:
            size = 0
            async for chunk in resp.content.iter_chunked(SPOOL_CHUNK_BYTES):
                spool.write(chunk)
                size += len(chunk)
            spool.seek(0)
            head = spool.read(SPOOL_HEAD_BYTES if size > SMALL_BODY_BYTES else size)
            if size <= SMALL_BODY_BYTES or resp.status >= 300:
                spool.seek(0)
                return ApiResponse(resp.status, dict(resp.headers), spool.read(), url=url)
            spool.seek(0)
            try:
                decoded = await json_stream.askim(spool, path)
            except ValueError:  # not JSON: the hook judges the excerpt like any other body
                decoded = None
            return ApiResponse(resp.status, dict(resp.headers), head, decoded=decoded, url=url)
        finally:
            spool.close()

    async def close(self) -> None:
        if self._session is not None:
            self._session = None
            await sessions.release()

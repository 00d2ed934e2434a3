"""Hook for the Post-e-Ketab (and Tapin) public API v2: background tasks (SPEC §5.1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

import pendulum

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
    Unlisted,
)
from airflow_provider_tasks.json_stream import StreamedArray
from airflow_provider_tasks.loop_logging import alog
from airflow_provider_tasks.states import RemoteState, TaskSnapshot, map_status
from airflow_provider_tasks.validation import require_positive_int, require_text_id

__all__ = ["TASK_STATUS_STATES", "PostEKetabHook"]

#: ``task_status`` → normalized state (0 registered, 1 under review, 2 in progress, 3 finished, 4 error).
TASK_STATUS_STATES: dict[int, RemoteState] = {
    0: RemoteState.PENDING,
    1: RemoteState.PENDING,
    2: RemoteState.RUNNING,
    3: RemoteState.SUCCEEDED,
    4: RemoteState.FAILED,
}
#: ``task_status`` in the service's own words (SPEC §5.1), for logs.
TASK_STATUS_LABELS: dict[int, str] = {0: "registered", 1: "under review", 2: "in progress", 3: "finished", 4: "error"}
_OK = 200
_NOT_FINISHED = 369
_TIMESTAMPS = ("created_at", "started_at", "ended_at")
#: Tasks per ``task/list/`` page when the triggers' poller reads many statuses at once.
POLL_PAGE_SIZE = 100
#: Distinct row messages a failed task's error quotes at most.
_QUOTED_MESSAGES = 5
#: List pages the poller reads at once (after the first, which tells how many there are).
POLL_PAGE_CONCURRENCY = 10


def _failure_message(rows: Any) -> str | None:
    """The first few distinct messages of a failed task's rows (and how many rows said something else)."""
    quoted: dict[str, None] = {}
    others = 0
    for row in rows if isinstance(rows, list | StreamedArray) else ():
        text = row.get("message") if isinstance(row, dict) else None
        if not text or str(text) in quoted:
            continue
        if len(quoted) < _QUOTED_MESSAGES:
            quoted[str(text)] = None
        else:
            others += 1
    if not quoted:
        return None
    return "; ".join(quoted) + (f" (and {others} more row(s) with other messages)" if others else "")


def _without_rows(snapshot: TaskSnapshot) -> TaskSnapshot:
    raw = {key: value for key, value in snapshot.raw.items() if key != "task_result"}
    return replace(snapshot, raw=raw, complete=False)


class PostEKetabHook(RemoteTaskHook):
    """Talks to Post-e-Ketab's task endpoints.

    The connection's password is the JWT token (sent as ``Authorization: JWT <token>``; a value that
    already starts with ``JWT `` is used as is). Extras: ``timezone`` (the zone the API's zone-less
    timestamps are read in, default ``Asia/Tehran``) and ``timeout``.

    :param posteketab_conn_id: Airflow connection id (default ``posteketab_default``).
    """

    service_name = "Post-e-Ketab"
    conn_type = "posteketab"
    conn_name_attr = "posteketab_conn_id"
    default_conn_name = "posteketab_default"
    hook_name = "Post-e-Ketab"
    default_host = "https://api.posteketab.com/api/v2/public"
    error_codes = {
        362: RemoteTaskNotFound,  # task not found
        332: RemoteAuthError,  # token not found
        336: RemoteAuthError,  # session expired
        337: RemoteAuthError,  # no permission
        301: RemoteTransientError,  # internal errors
        350: RemoteTransientError,
        364: RemoteTransientError,
    }
    error_hints = {
        300: "invalid input — a parameter of the request was refused",
        301: "internal error at Post-e-Ketab — retried; if it persists, ask Post-e-Ketab's support",
        332: "token not found — check the connection's password, the JWT",
        336: "session expired — put a fresh JWT in the connection's password",
        337: "no permission — this JWT may not do this; tokens are often bound to a whitelisted server IP",
        339: "invalid id — check the task id",
        340: "invalid input — a parameter of the request was refused",
        350: "internal error at Post-e-Ketab — retried; if it persists, ask Post-e-Ketab's support",
        357: "invalid input — a parameter of the request was refused",
        362: "task not found — check the task id, and that the JWT is of the account that created it",
        364: "internal error at Post-e-Ketab — retried; if it persists, ask Post-e-Ketab's support",
        369: "task not finished — wait for it (wait_for_completion=True) or read it later",
        371: "invalid input — a parameter of the request was refused",
        372: "invalid input — a parameter of the request was refused",
    }

    def __init__(self, posteketab_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(posteketab_conn_id, **kwargs)
        #: Waited tasks not on the list pages worth reading (see :meth:`apoll_many`).
        self._unlisted = Unlisted()
        self._list_refused = False

    # ------------------------------------------------------------------ wire format
    def _validate_extras(self, extras: Mapping[str, Any]) -> Mapping[str, Any]:
        name = extras.get("timezone") or "Asia/Tehran"
        try:
            zone = pendulum.timezone(str(name))
        except Exception:
            raise ValueError(
                f"Connection {self.conn_id!r}: extra 'timezone' is not a known IANA zone: {name!r}"
            ) from None
        return {**extras, "timezone": zone.name}

    def _prepare(self, settings: ConnectionSettings, call: ApiCall) -> PreparedRequest:
        token = settings.secret
        auth = token if token.upper().startswith("JWT ") else f"JWT {token}"
        return PreparedRequest(
            method=call.method,
            url=f"{settings.base_url}/{call.path.lstrip('/')}",
            headers={"Authorization": auth, "Accept": "application/json"},
            json_body=call.json_body,
        )

    def _decode(self, call: ApiCall, response: ApiResponse) -> Any:
        if not response.body.strip():
            self._raise_for_http(call, response)
        body = self._json_or_transient(call, response)
        returns = body.get("returns") if isinstance(body, dict) else None
        if not isinstance(returns, dict) or "status" not in returns:
            self._raise_for_http(call, response)
            raise RemoteApiError(
                self.service_name,
                f"unexpected response without a 'returns' envelope: {response.text_excerpt()!r}",
                item_id=call.item_id,
            )
        message = str(returns.get("message") or "")
        try:
            code = int(returns["status"])
        except (TypeError, ValueError):
            raise RemoteApiError(
                self.service_name, f"unreadable returns.status {returns['status']!r}", item_id=call.item_id
            ) from None
        if code == _OK:
            return body.get("entries")
        # The envelope decides, whatever the HTTP status (which the docs leave unspecified).
        self._raise_for_code(call, code, message)

    def _parse_times(self, task: dict[str, Any]) -> dict[str, Any]:
        zone = pendulum.timezone(self.settings_timezone)
        for key in _TIMESTAMPS:
            value = task.get(key)
            if isinstance(value, str) and value:
                try:
                    parsed = pendulum.parse(value, tz=zone)
                except Exception:
                    continue  # keep what the service sent rather than fail a wait on a timestamp
                if isinstance(parsed, pendulum.DateTime):
                    task[key] = parsed
        return task

    @property
    def settings_timezone(self) -> str:
        return str((self._settings.extras if self._settings else {}).get("timezone") or "Asia/Tehran")

    def _task_entries(self, task_id: str, stream_rows: bool = False) -> ApiCall:
        def extract(entries: Any) -> dict[str, Any]:
            if not isinstance(entries, dict):
                raise RemoteApiError(self.service_name, f"task/detail returned {entries!r:.200}", item_id=task_id)
            return self._parse_times(dict(entries))

        return ApiCall(
            "POST",
            "task/detail/",
            item_id=task_id,
            json_body={"task_id": task_id},
            extract=extract,
            stream_array=("entries", "task_result") if stream_rows else None,
        )

    # ------------------------------------------------------------------ public API
    def get_task(self, task_id: str) -> dict[str, Any]:
        """Return the task's ``entries`` (``task_status``, ``task_result``, ...).

        ``created_at``/``started_at``/``ended_at`` come back as timezone-aware pendulum datetimes,
        read in the connection's ``timezone``; they are ``None`` until the task starts/ends.
        """
        task_id = require_text_id("posteketab_task_id", task_id)
        return dict(self.call(self._task_entries(task_id)))

    @contextlib.contextmanager
    def stream_task(self, task_id: str) -> Iterator[dict[str, Any]]:
        """Like :meth:`get_task`, for results too big for memory: inside the ``with`` block,
        ``task_result`` is an iterable that reads the rows one at a time from a temporary file
        (``len()`` gives their number). The body is checked whole before the block starts.
        """
        task_id = require_text_id("posteketab_task_id", task_id)
        task = dict(self.call(self._task_entries(task_id, stream_rows=True)))
        try:
            yield task
        finally:
            rows = task.get("task_result")
            if isinstance(rows, StreamedArray):
                rows.close()

    async def aget_task(self, task_id: str) -> dict[str, Any]:
        """Async counterpart of :meth:`get_task`."""
        task_id = require_text_id("posteketab_task_id", task_id)
        return dict(await self.acall(self._task_entries(task_id)))

    def _list_call(self, page: int, count: int, parse_times: bool = True) -> ApiCall:
        page = require_positive_int("page", page)
        count = require_positive_int("count", count)

        def extract(entries: Any) -> dict[str, Any]:
            items = entries.get("list") if isinstance(entries, dict) else None
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise RemoteApiError(self.service_name, f"task/list returned {entries!r:.200}")
            page_entries: dict[str, Any] = dict(entries)
            if parse_times:
                page_entries["list"] = [self._parse_times(dict(item)) for item in items]
            return page_entries

        return ApiCall("POST", "task/list/", json_body={"count": count, "page": page}, extract=extract)

    def list_tasks(self, page: int = 1, count: int = 100) -> dict[str, Any]:
        """Return one page of tasks: ``{"list": [...], "count", "page", "total_count"}``, newest first."""
        return dict(self.call(self._list_call(page, count)))

    async def alist_tasks(self, page: int = 1, count: int = 100, *, parse_times: bool = True) -> dict[str, Any]:
        """Async counterpart of :meth:`list_tasks` (``parse_times=False`` leaves timestamps as sent)."""
        return dict(await self.acall(self._list_call(page, count, parse_times)))

    def iter_tasks(self, count: int = 100) -> Iterator[dict[str, Any]]:
        """Yield every task of every page (stops at ``total_count`` or at a short/empty page)."""
        page, seen = 1, 0
        while True:
            entries = self.list_tasks(page=page, count=count)
            items = entries["list"]
            yield from items
            seen += len(items)
            total = entries.get("total_count")
            if not items or len(items) < count or (isinstance(total, int) and seen >= total):
                return
            page += 1

    # ------------------------------------------------------------------ waiting
    async def apoll_many(
        self, item_ids: Sequence[str | int], *, due: Collection[str | int] | None = None, **kwargs: Any
    ) -> dict[str | int, TaskSnapshot | BaseException]:
        """Statuses of many tasks from ``task/list/`` (newest first).

        A finished task comes back as an incomplete snapshot, without ``task_result``: the task that
        resumes from it reads the detail once, so a round is never held up by details and a big
        result never travels through the metadata database inside a trigger event.
        Pages are read only while that costs fewer requests than reading the tasks still missing one
        by one, counting every listening wait, and every task they show is answered, due or not.
        Tasks not on those pages (remembered: newer tasks only push them further down), and a single
        wait, are read by ``task/detail/`` when due; the pages are weighed again for them once the waits
        have doubled (waits arrive over time: pages not worth reading for two are for two hundred).
        A token refused the list falls back to details.
        """
        due = set(item_ids) if due is None else set(due)
        wanted = {require_text_id("posteketab_task_id", item_id): item_id for item_id in item_ids}
        self._unlisted.reconsider(len(wanted))
        listable = [task_id for task_id in wanted if task_id not in self._unlisted]
        listed: dict[str, dict[str, Any]] = {}
        if len(wanted) > 1 and any(wanted[task_id] in due for task_id in listable) and not self._list_refused:
            try:
                listed = await self._find_in_list(listable)
            except (RemoteAuthError, RemoteApiError, RemoteTaskNotFound) as error:
                await alog(self.log, "warning", "%s; reading each task's detail instead of the task list", error)
                self._list_refused = True
            else:
                self._unlisted.decide((task_id for task_id in listable if task_id not in listed), len(wanted))
        results: dict[str | int, TaskSnapshot | BaseException] = {}
        for task_id, item in listed.items():
            item_id = wanted[task_id]
            try:
                results[item_id] = self.snapshot(item_id, self._parse_times(dict(item)))
            except RemoteError as error:
                results[item_id] = error
        missing = [item_id for task_id, item_id in wanted.items() if task_id not in listed]
        results.update(await super().apoll_many(missing, due=due))
        for item_id, result in results.items():
            if isinstance(result, TaskSnapshot) and result.state.is_terminal:
                results[item_id] = _without_rows(result)
            if not isinstance(result, TaskSnapshot) or result.state.is_terminal:
                self._unlisted.discard(str(item_id))  # its wait ends here
        return results

    async def _find_in_list(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The list items of ``task_ids`` found on the pages worth reading: the first page, then
        (with ``total_count`` known) the next ones concurrently, a few at a time."""
        wanted = set(task_ids)
        found: dict[str, dict[str, Any]] = {}
        page, last_page = 1, None
        while len(found) < len(wanted):
            # A page is worth it while it costs less than one detail request per task still missing.
            budget = len(wanted) - len(found) - (page - 1)
            count = 1 if page == 1 else min(budget, POLL_PAGE_CONCURRENCY)
            if last_page is not None:
                count = min(count, last_page - page + 1)
            if count <= 0:
                break
            pages = await asyncio.gather(
                *(
                    self.alist_tasks(page=number, count=POLL_PAGE_SIZE, parse_times=False)
                    for number in range(page, page + count)
                ),
                return_exceptions=True,
            )
            error = next((entries for entries in pages if isinstance(entries, BaseException)), None)
            if error is not None:
                raise error
            ended = False
            for entries in cast("list[dict[str, Any]]", pages):
                items = entries["list"]
                found.update((str(item.get("id")), item) for item in items if str(item.get("id")) in wanted)
                total = entries.get("total_count")
                if isinstance(total, int):
                    last_page = max(1, -(-total // POLL_PAGE_SIZE))
                ended = ended or len(items) < POLL_PAGE_SIZE
            if ended:
                break
            page += count
        return found

    def snapshot(self, item_id: str | int, remote: Mapping[str, Any]) -> TaskSnapshot:
        state = map_status(self.service_name, item_id, remote.get("task_status"), TASK_STATUS_STATES)
        message = _failure_message(remote.get("task_result")) if state is RemoteState.FAILED else None
        status = remote.get("task_status")
        label = TASK_STATUS_LABELS.get(status) if isinstance(status, int) else None
        return TaskSnapshot(
            self.service_name,
            str(item_id),
            state,
            remote,
            message=message,
            remote_status=f'task_status {status} "{label}"' if label else f"task_status {status!r}",
        )

    def _not_finished(self, task_id: str) -> TaskSnapshot:
        # 369 "task not finished" is documented without saying which call returns it: read it as running.
        return TaskSnapshot(self.service_name, task_id, RemoteState.RUNNING, {"id": task_id})

    def get_snapshot(self, item_id: str | int, rows: bool = True, **kwargs: Any) -> TaskSnapshot:
        """Read the task's detail; with ``rows=False`` its ``task_result`` is read as a stream (for the
        failure message) and left out of the snapshot, so that a big result never sits in memory."""
        try:
            if rows:
                return self.snapshot(item_id, self.get_task(str(item_id)))
            with self.stream_task(str(item_id)) as task:
                snapshot = self.snapshot(item_id, task)
            task.pop("task_result", None)
            return replace(snapshot, raw=task)
        except RemoteApiError as error:
            if error.code == _NOT_FINISHED:
                return self._not_finished(str(item_id))
            raise

    async def aget_snapshot(self, item_id: str | int, **kwargs: Any) -> TaskSnapshot:
        """Read the task's status without its rows (``task_result`` is ``None`` in a big body: the
        triggerer never holds or parses a huge result in one go on its event loop)."""
        task_id = require_text_id("posteketab_task_id", item_id)
        try:
            return self.snapshot(item_id, dict(await self.acall(self._task_entries(task_id, stream_rows=True))))
        except RemoteApiError as error:
            if error.code == _NOT_FINISHED:
                return self._not_finished(str(item_id))
            raise

    def _test_call(self) -> ApiCall:
        return self._list_call(1, 1)

    def _test_result(self, result: Any) -> str:
        return f"Connected to Post-e-Ketab: {result.get('total_count', 0)} task(s) visible"

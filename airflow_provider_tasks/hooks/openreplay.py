"""Hook for the OpenReplay public API v2: jobs (SPEC §5.2)."""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_tasks.exceptions import RemoteApiError, RemoteAuthError, RemoteError, RemoteTransientError
from airflow_provider_tasks.hooks.base import (
    ApiCall,
    ApiResponse,
    ConnectionSettings,
    PreparedRequest,
    RemoteTaskHook,
    Unlisted,
)
from airflow_provider_tasks.states import RemoteState, TaskSnapshot, map_status
from airflow_provider_tasks.validation import require_positive_int, require_text_id

__all__ = ["JOB_STATUS_STATES", "OpenReplayHook"]

#: ``status`` → normalized state.
JOB_STATUS_STATES: dict[str, RemoteState] = {
    "scheduled": RemoteState.PENDING,
    "running": RemoteState.RUNNING,
    "completed": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
    "cancelled": RemoteState.CANCELLED,
}
MAX_PAGE_SIZE = 200
MAX_USER_ID_LENGTH = 256
ACTIVE_STATUSES = frozenset({"scheduled", "running"})

#: A cancel protocol: yields the calls to make, is sent each result (or thrown its error), returns the job.
CancelSteps = Generator[ApiCall, Any, dict[str, Any]]


def _advance(
    steps: CancelSteps, *, result: Any = None, error: BaseException | None = None
) -> tuple[ApiCall | None, dict[str, Any] | None]:
    """Hand a protocol the answer to its last call (or the error it met): its next call, or its result."""
    try:
        call = steps.throw(error) if error is not None else steps.send(result)
    except StopIteration as done:
        return None, dict(done.value)
    return call, None


class OpenReplayHook(RemoteTaskHook):
    """Talks to OpenReplay's ``/public/{projectKey}/jobs`` and ``/users`` endpoints.

    The connection's password is the organization API key (``Authorization: Bearer <key>``); the host
    is the API base URL (cloud ``https://api.openreplay.com/v2``; self-hosted ``https://DOMAIN/api/v2``,
    or ``https://DOMAIN/v2/api`` behind the stock nginx of v1.27.0). Extras: ``project_key`` (the
    default project) and ``timeout``.

    :param openreplay_conn_id: Airflow connection id (default ``openreplay_default``).
    """

    service_name = "OpenReplay"
    conn_type = "openreplay"
    conn_name_attr = "openreplay_conn_id"
    default_conn_name = "openreplay_default"
    hook_name = "OpenReplay"
    default_host = "https://api.openreplay.com/v2"
    #: OpenReplay's codes are HTTP statuses with ``{"error": "<text>"}`` (401: an empty body).
    error_hints = {
        400: "request refused — check the job id (an integer) and the user id (1-256 characters); "
        "a job already cancelled is refused the same way",
        401: "the API key is wrong, or the project key is not in the key's organization — check the "
        "connection's password and its project_key",
        403: "forbidden — this API key may not do this",
        404: "not found in this project — check the job id and the project key",
        409: "a deletion job for this user is already scheduled or running — wait for it or cancel it",
    }

    def __init__(self, openreplay_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(openreplay_conn_id, **kwargs)
        #: Waited jobs not on the list pages worth reading (see :meth:`apoll_many`).
        self._unlisted = Unlisted()

    # ------------------------------------------------------------------ wire format
    def _prepare(self, settings: ConnectionSettings, call: ApiCall) -> PreparedRequest:
        return PreparedRequest(
            method=call.method,
            url=f"{settings.base_url}/{call.path.lstrip('/')}",
            params=dict(call.params or {}),
            headers={"Authorization": f"Bearer {settings.secret}", "Accept": "application/json"},
        )

    def _decode(self, call: ApiCall, response: ApiResponse) -> Any:
        if response.status == 401 and not response.body.strip():
            raise RemoteAuthError(
                self.service_name,
                "HTTP 401 with an empty body",
                item_id=call.item_id,
                code=401,
                hint=self.error_hints[401],
            )
        if not response.body.strip():
            self._raise_for_http(call, response)
            raise RemoteApiError(self.service_name, f"empty answer (HTTP {response.status})", item_id=call.item_id)
        if response.status >= 500 or response.status == 429:
            self._raise_for_http(call, response)  # a proxy may answer with anything: transient first
        body = self._json_or_transient(call, response)
        if response.status >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            self._raise_for_http(call, response, str(error) if error else None, enveloped=bool(error))
        if not isinstance(body, dict) or "data" not in body:
            raise RemoteApiError(
                self.service_name,
                f"unexpected response without 'data': {response.text_excerpt()!r}",
                item_id=call.item_id,
            )
        return body["data"]

    def project(self, project_key: str | None) -> str:
        """The project key to use: the argument, else the connection's ``project_key`` extra."""
        if project_key is not None:
            return require_text_id("project_key", project_key)
        default = self.settings.extras.get("project_key")
        if not default:
            raise ValueError(f"project_key is not given and connection {self.conn_id!r} has no 'project_key' extra")
        return require_text_id("project_key", default)

    async def aproject(self, project_key: str | None) -> str:
        """Async counterpart of :meth:`project`."""
        await self.asettings()
        return self.project(project_key)

    def _job_object(self, job_id: int) -> Any:
        def extract(data: Any) -> dict[str, Any]:
            if not isinstance(data, dict) or "status" not in data:
                raise RemoteApiError(self.service_name, f"unexpected job object {data!r}", item_id=job_id)
            return dict(data)

        return extract

    def _job_call(self, method: str, job_id: Any, project: str, *, retry: bool = True) -> ApiCall:
        job_id = require_positive_int("job_id", job_id)
        return ApiCall(
            method,
            f"public/{quote(project, safe='')}/jobs/{job_id}",
            item_id=job_id,
            extract=self._job_object(job_id),
            retry=retry,
        )

    def _list_call(self, project: str, limit: int, page: int) -> ApiCall:
        limit = require_positive_int("limit", limit)
        page = require_positive_int("page", page)
        if limit > MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit!r}")

        def extract(data: Any) -> list[dict[str, Any]]:
            if not isinstance(data, list) or not all(isinstance(job, dict) for job in data):
                raise RemoteApiError(self.service_name, f"jobs list is not a list of jobs: {data!r:.200}")
            return [dict(job) for job in data]

        return ApiCall(
            "GET",
            f"public/{quote(project, safe='')}/jobs",
            params={"limit": str(limit), "page": str(page)},
            extract=extract,
        )

    def _delete_user_call(self, user_id: Any, project: str) -> ApiCall:
        user_id = require_text_id("user_id", user_id, max_length=MAX_USER_ID_LENGTH)
        return ApiCall(
            "DELETE",
            f"public/{quote(project, safe='')}/users/{quote(user_id, safe='')}",
            item_id=user_id,
            extract=self._job_object(0),
        )

    # ------------------------------------------------------------------ public API
    def get_job(self, job_id: int, project_key: str | None = None) -> dict[str, Any]:
        """Return the job (``jobId``, ``status``, ``errors``, ...)."""
        require_positive_int("job_id", job_id)
        return dict(self.call(self._job_call("GET", job_id, self.project(project_key))))

    async def aget_job(self, job_id: int, project_key: str | None = None) -> dict[str, Any]:
        """Async counterpart of :meth:`get_job`."""
        require_positive_int("job_id", job_id)
        return dict(await self.acall(self._job_call("GET", job_id, await self.aproject(project_key))))

    def list_jobs(self, project_key: str | None = None, limit: int = 50, page: int = 1) -> list[dict[str, Any]]:
        """Return one page of the project's jobs, newest first (``limit`` 1-200)."""
        return list(self.call(self._list_call(self.project(project_key), limit, page)))

    async def alist_jobs(self, project_key: str | None = None, limit: int = 50, page: int = 1) -> list[dict[str, Any]]:
        """Async counterpart of :meth:`list_jobs`."""
        return list(await self.acall(self._list_call(await self.aproject(project_key), limit, page)))

    def iter_jobs(self, project_key: str | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Yield every job of every page; the API gives no total, so a short page is the last."""
        project = self.project(project_key)
        page = 1
        while True:
            jobs = self.call(self._list_call(project, page_size, page))
            yield from jobs
            if len(jobs) < page_size:
                return
            page += 1

    def _cancel_steps(
        self, job_id: int, project: str, *, only_if_active: bool, seen: Mapping[str, Any] | None = None
    ) -> CancelSteps:
        """Cancel a job so that the answer cannot lie: the DELETE is never re-sent blindly.

        The server turns any job that is not completed/cancelled into ``cancelled``, a ``failed`` one
        included, and refuses a second cancel. So the DELETE goes once per decision; after a try that
        got no answer, or a refusal, the job is read again, and only a job still scheduled/running is
        sent another DELETE. A job that failed or completed meanwhile is returned as it is, for the
        caller to report; ``only_if_active`` reads the job first (unless the caller just did: ``seen``)
        and leaves a finished one alone. A plain cancel refused at once (400, e.g. already cancelled)
        raises that refusal.
        """
        get = self._job_call("GET", job_id, project)
        delete = self._job_call("DELETE", job_id, project, retry=False)
        if only_if_active:
            job: dict[str, Any] = dict(seen) if seen is not None else (yield get)
            if job.get("status") not in ACTIVE_STATUSES:
                return job
        attempts = self.retry_policy.attempts
        for attempt in range(1, attempts + 1):
            try:
                cancelled: dict[str, Any] = yield delete
                return cancelled
            except RemoteTransientError as error:
                if attempt == attempts:
                    raise
                self.log.warning("%s; reading job %s again before deciding to cancel it again", error, job_id)
            except RemoteApiError as error:
                # A refusal after a try that got no answer may be that try's own echo; a job seen active
                # a moment ago may have ended since. Otherwise the refusal is the answer.
                if error.code != 400 or not (only_if_active or attempt > 1):
                    raise
                self.log.info("%s; reading job %s to see what it is now", error, job_id)
            job = yield get
            if job.get("status") not in ACTIVE_STATUSES:
                return job
        raise RemoteApiError(
            self.service_name, f"still {job.get('status')} after {attempts} cancel attempts", item_id=job_id
        )

    def _run_steps(self, steps: CancelSteps) -> dict[str, Any]:
        call: ApiCall | None = next(steps)
        done: dict[str, Any] | None = None
        while done is None and call is not None:
            try:
                result = self.call(call)
            except RemoteError as error:
                call, done = _advance(steps, error=error)
            else:
                call, done = _advance(steps, result=result)
        return done or {}

    async def _arun_steps(self, steps: CancelSteps) -> dict[str, Any]:
        call: ApiCall | None = next(steps)
        done: dict[str, Any] | None = None
        while done is None and call is not None:
            try:
                result = await self.acall(call)
            except RemoteError as error:
                call, done = _advance(steps, error=error)
            else:
                call, done = _advance(steps, result=result)
        return done or {}

    def cancel_job(self, job_id: int, project_key: str | None = None) -> dict[str, Any]:
        """Cancel the job and return it as it then is: ``cancelled``, or ``failed``/``completed`` when it
        ended before the cancel could land (check ``status``).

        Beware: the server also turns a ``failed`` job into ``cancelled``;
        :class:`~airflow_provider_tasks.operators.openreplay.OpenReplayCancelJobOperator` reads first
        (:meth:`cancel_if_active`).
        """
        job_id = require_positive_int("job_id", job_id)
        return self._run_steps(self._cancel_steps(job_id, self.project(project_key), only_if_active=False))

    async def acancel_job(self, job_id: int, project_key: str | None = None) -> dict[str, Any]:
        """Async counterpart of :meth:`cancel_job`."""
        job_id = require_positive_int("job_id", job_id)
        steps = self._cancel_steps(job_id, await self.aproject(project_key), only_if_active=False)
        return await self._arun_steps(steps)

    def cancel_if_active(
        self, job_id: int, project_key: str | None = None, *, job: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Read the job (or take ``job``, just read by the caller) and cancel it only if it is scheduled
        or running; return it as it then is."""
        job_id = require_positive_int("job_id", job_id)
        steps = self._cancel_steps(job_id, self.project(project_key), only_if_active=True, seen=job)
        return self._run_steps(steps)

    async def acancel_if_active(self, job_id: int, project_key: str | None = None) -> dict[str, Any]:
        """Async counterpart of :meth:`cancel_if_active`."""
        job_id = require_positive_int("job_id", job_id)
        steps = self._cancel_steps(job_id, await self.aproject(project_key), only_if_active=True)
        return await self._arun_steps(steps)

    def delete_user_data(self, user_id: str, project_key: str | None = None) -> dict[str, Any]:
        """Create a job deleting ``user_id``'s data; returns the new job (status ``scheduled``).

        Raises :class:`~airflow_provider_tasks.exceptions.RemoteApiError` with ``code == 409`` when a
        job for that user is already scheduled or running (see :meth:`find_active_deletion_job`) —
        unless that job is the echo of this very call, retried after its answer was lost.
        """
        user_id = require_text_id("user_id", user_id, max_length=MAX_USER_ID_LENGTH)
        project = self.project(project_key)
        try:
            return dict(self.call(self._delete_user_call(user_id, project)))
        except RemoteApiError as error:
            job = self.find_active_deletion_job(user_id, project) if error.after_retry and error.code == 409 else None
            if job is None:
                raise
            return job

    def find_active_deletion_job(self, user_id: str, project_key: str | None = None) -> dict[str, Any] | None:
        """The scheduled or running ``delete_user_data`` job of ``user_id``, if there is one."""
        for job in self.iter_jobs(project_key):
            if (
                job.get("referenceId") == user_id
                and job.get("action") == "delete_user_data"
                and job.get("status") in ("scheduled", "running")
            ):
                return job
        return None

    # ------------------------------------------------------------------ waiting
    async def apoll_many(
        self,
        item_ids: Sequence[str | int],
        *,
        due: Collection[str | int] | None = None,
        project_key: str | None = None,
        **kwargs: Any,
    ) -> dict[str | int, TaskSnapshot | BaseException]:
        """Statuses of many jobs from the jobs list (200 a page, newest first).

        Pages are read while that costs fewer requests than reading the jobs still missing one by
        one, counting every listening wait; each job the pages show is answered, due or not. Jobs not
        on those pages are remembered as unlisted (newer jobs only push them further down) and read
        one by one when due, without reading pages for them again until the waits have doubled: waits
        arrive over time, and pages not worth reading for two waits are for two hundred (else the first
        waits would keep rounds of their own).
        """
        due = set(item_ids) if due is None else set(due)
        wanted = {require_positive_int("job_id", item_id): item_id for item_id in item_ids}
        self._unlisted.reconsider(len(wanted))
        listable = {job_id: item_id for job_id, item_id in wanted.items() if job_id not in self._unlisted}
        found: dict[int, dict[str, Any]] = {}
        if len(wanted) > 1 and any(item_id in due for item_id in listable.values()):
            project = await self.aproject(project_key)
            page = 1
            while len(found) < len(listable) and page <= len(listable) - len(found):
                jobs = await self.acall(self._list_call(project, MAX_PAGE_SIZE, page))
                found.update((job["jobId"], job) for job in jobs if job.get("jobId") in listable)
                # Newest first: past the oldest wanted id, or on a short page, the rest is not listed.
                if len(jobs) < MAX_PAGE_SIZE or jobs[-1].get("jobId", 0) <= min(listable):
                    break
                page += 1
            self._unlisted.decide((job_id for job_id in listable if job_id not in found), len(wanted))
        results: dict[str | int, TaskSnapshot | BaseException] = {}
        for job_id, job in found.items():
            try:
                results[wanted[job_id]] = self.snapshot(wanted[job_id], job)
            except RemoteError as error:
                results[wanted[job_id]] = error
        missing = [item_id for job_id, item_id in wanted.items() if job_id not in found]
        results.update(await super().apoll_many(missing, due=due, project_key=project_key))
        for item_id, result in results.items():
            if not isinstance(result, TaskSnapshot) or result.state.is_terminal:
                self._unlisted.discard(int(item_id))  # its wait ends here
        return results

    def snapshot(self, item_id: str | int, remote: Mapping[str, Any]) -> TaskSnapshot:
        state = map_status(self.service_name, item_id, remote.get("status"), JOB_STATUS_STATES)
        errors = remote.get("errors")
        message = str(errors) if errors and state is RemoteState.FAILED else None
        return TaskSnapshot(
            self.service_name, item_id, state, remote, message=message, remote_status=f'"{remote.get("status")}"'
        )

    def get_snapshot(self, item_id: str | int, project_key: str | None = None, **kwargs: Any) -> TaskSnapshot:
        return self.snapshot(item_id, self.get_job(int(item_id), project_key))

    async def aget_snapshot(self, item_id: str | int, project_key: str | None = None, **kwargs: Any) -> TaskSnapshot:
        return self.snapshot(item_id, await self.aget_job(int(item_id), project_key))

    def web_url(self, item_id: str | int | None = None, **kwargs: Any) -> str | None:
        parts = urlsplit(self.settings.base_url)
        if parts.hostname == "api.openreplay.com":
            return "https://app.openreplay.com"
        return f"{parts.scheme}://{parts.netloc}"

    def _test_call(self) -> ApiCall:
        return ApiCall("GET", "public/projects")

    def _test_result(self, result: Any) -> str:
        count = len(result) if isinstance(result, list) else 0
        return f"Connected to OpenReplay: {count} project(s) visible"

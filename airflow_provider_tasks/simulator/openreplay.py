"""Simulated OpenReplay public API v2, jobs part (SPEC §5.2), as in openreplay v1.27.0.

Served under ``/openreplay/v2/public``. Success is ``{"data": ...}`` with HTTP 200, errors are
``{"error": "<text>"}`` with the HTTP status, and 401 (bad key, or a project of another tenant)
has an empty body.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from airflow_provider_tasks.simulator.core import Step, Timeline
from airflow_provider_tasks.simulator.service import Service, StatusListener, json_response, reason

__all__ = ["DEFAULT_STEPS", "PREFIX", "OpenReplayJob", "OpenReplayService"]

PREFIX = "/openreplay/v2/public"

#: scheduled (1 poll) -> running (1 poll) -> completed.
DEFAULT_STEPS: tuple[Step, ...] = (Step("scheduled", polls=1), Step("running", polls=1), Step("completed"))
FIRST_JOB_ID = 1000
DEFAULT_ERRORS = "failed to delete sessions: simulated failure"
_ACTIVE = frozenset({"scheduled", "running"})
_INTEGER = re.compile(r"[+-]?\d+")
_DAY_MS = 86_400_000


def _ms(epoch: float) -> int:
    return int(epoch * 1000)


@dataclass
class OpenReplayJob:
    """One ``delete_user_data`` job; timestamps derive from its status history."""

    job_id: int
    project_key: str
    project_id: int
    user_id: str
    errors: str | None
    timeline: Timeline

    @property
    def key(self) -> str:
        return str(self.job_id)

    def to_json(self) -> dict[str, Any]:
        """The job object exactly as the server serialises it (epoch milliseconds, UTC)."""
        history = self.timeline.history
        status = self.timeline.current.status
        created = _ms(history[0].epoch)
        fresh = len(history) == 1 and status == "scheduled"
        failed = any(t.step.status == "failed" for t in history)
        return {
            "jobId": self.job_id,
            "projectId": self.project_id,
            "description": f"Delete user sessions of userId = {self.user_id}",
            "status": status,
            "action": "delete_user_data",
            "referenceId": self.user_id,
            "createdAt": created,
            "updatedAt": None if fresh else _ms(history[-1].epoch),
            "startAt": (created // _DAY_MS + 1) * _DAY_MS,  # next midnight UTC
            "errors": (self.errors or DEFAULT_ERRORS) if failed else None,
        }


class OpenReplayService(Service[OpenReplayJob]):
    """OpenReplay: ``Authorization: Bearer <key>``; the key's tenant owns one project.

    :param api_key: the organisation API key the simulator accepts.
    :param project_key: the project that key owns; any other project key answers 401.
    """

    name = "openreplay"
    prefixes = (PREFIX + "/",)
    status_type = str

    def __init__(
        self, lock: threading.RLock, on_status_change: StatusListener, *, api_key: str, project_key: str
    ) -> None:
        super().__init__(lock, on_status_change)
        self.api_key = api_key
        self.project_key = project_key
        #: timeline of the jobs that ``DELETE /public/{pk}/users/{userId}`` creates.
        self.new_job_steps: list[Step] = list(DEFAULT_STEPS)
        self._next_id = FIRST_JOB_ID
        self._project_ids: dict[str, int] = {project_key: 1}
        self._by_user: dict[tuple[str, str], list[OpenReplayJob]] = {}

    def _clear(self) -> None:
        super()._clear()
        self._by_user = {}
        self.new_job_steps = list(DEFAULT_STEPS)
        self._next_id = FIRST_JOB_ID
        self._project_ids = {self.project_key: 1}

    def add_job(
        self,
        *,
        user_id: str = "user@example.com",
        steps: Sequence[Step] = DEFAULT_STEPS,
        project_key: str | None = None,
        errors: str | None = None,
    ) -> int:
        """Create a ``delete_user_data`` job and return its ``jobId`` (1000, 1001, ...).

        :param user_id: the job's ``referenceId``.
        :param steps: its status timeline (``scheduled``, ``running``, ``completed``, ``failed``,
            ``cancelled``).
        :param project_key: the project it belongs to (default: the key's own project). Jobs of
            another project are invisible to the key: every call about them answers 401.
        :param errors: the ``errors`` text it carries once it has failed (a default text otherwise).
        """
        with self._lock:
            return self._create(user_id, steps, project_key or self.project_key, errors).job_id

    def _create(self, user_id: str, steps: Sequence[Step], project_key: str, errors: str | None) -> OpenReplayJob:
        job_id = self._next_id
        project_id = self._project_ids.setdefault(project_key, len(self._project_ids) + 1)
        job = OpenReplayJob(
            job_id=job_id,
            project_key=project_key,
            project_id=project_id,
            user_id=user_id,
            errors=errors,
            timeline=self._new_timeline(str(job_id), steps, time.monotonic()),
        )
        self._store(job)
        self._by_user.setdefault((project_key, user_id), []).append(job)
        self._next_id += 1
        return job

    # ---- HTTP -----------------------------------------------------------------------------------

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [
            web.get(f"{PREFIX}/projects", self._list_projects),
            web.get(f"{PREFIX}/projects/{{project}}", self._get_project),
            web.get(f"{PREFIX}/{{project}}/jobs", self._list_jobs),
            web.get(f"{PREFIX}/{{project}}/jobs/{{job_id}}", self._get_job),
            web.delete(f"{PREFIX}/{{project}}/jobs/{{job_id}}", self._cancel_job),
            web.delete(f"{PREFIX}/{{project}}/users/{{user_id:[^/]*}}", self._delete_user_data),
        ]

    def code_error(self, code: int) -> web.Response:
        raise ValueError("OpenReplay has no error codes")  # refused when the fault is added

    def http_error(self, status: int) -> web.Response:
        if status == 401:
            return web.Response(status=401)
        return _error(status, reason(status).lower())

    def _projects(self) -> list[dict[str, Any]]:
        return [{"projectId": 1, "projectKey": self.project_key, "name": "Simulator", "platform": "web"}]

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and value.strip() == self.api_key

    def _denied(self, request: web.Request) -> web.Response | None:
        """401 with an empty body for a bad key or a project the key's tenant does not own."""
        if not self._authorized(request):
            return web.Response(status=401)
        project = request.match_info.get("project")
        if project is not None and project != self.project_key:
            return web.Response(status=401)
        return None

    def _job(self, request: web.Request) -> OpenReplayJob | web.Response:
        raw = request.match_info["job_id"]
        if not _INTEGER.fullmatch(raw):
            return _error(400, f"invalid jobID {raw!r}: must be an integer")
        job = self._items.get(str(int(raw)))
        if job is None or job.project_key != request.match_info["project"]:
            return _error(404, "job not found")
        return job

    async def _list_projects(self, request: web.Request) -> web.Response:
        return self._denied(request) or json_response({"data": self._projects()})

    async def _get_project(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        return json_response({"data": self._projects()[0]})

    async def _list_jobs(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        limit = _query_int(request, "limit", 50)
        page = _query_int(request, "page", 1)
        if not 1 <= limit <= 200:
            limit = 50
        page = max(page, 1)
        project = request.match_info["project"]
        now = time.monotonic()
        with self._lock:
            jobs = [job for job in self._items.values() if job.project_key == project]
            jobs.sort(key=lambda job: job.job_id, reverse=True)
            chosen = jobs[(page - 1) * limit : page * limit]
            for job in chosen:
                job.timeline.peek(now)
            data = [job.to_json() for job in chosen]
        return json_response({"data": data})

    async def _get_job(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        with self._lock:
            job = self._job(request)
            if isinstance(job, web.Response):
                return job
            job.timeline.poll(time.monotonic())
            data = job.to_json()
        return json_response({"data": data})

    async def _cancel_job(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        now = time.monotonic()
        with self._lock:
            job = self._job(request)
            if isinstance(job, web.Response):
                return job
            status = job.timeline.peek(now).status
            if status in ("completed", "cancelled"):
                return _error(400, f"the requested job has already been {status}")
            job.timeline.force(Step("cancelled"), now)  # a failed job is overwritten too
            data = job.to_json()
        return json_response({"data": data})

    async def _delete_user_data(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        user_id = request.match_info["user_id"]
        if not user_id:
            return _error(400, "userID cannot be empty")
        if len(user_id.encode()) > 256:
            return _error(400, "userID exceeds maximum length of 256 characters")
        project = request.match_info["project"]
        now = time.monotonic()
        with self._lock:
            for job in self._by_user.get((project, user_id), []):
                if job.timeline.peek(now).status in _ACTIVE:
                    return _error(409, "a deletion job for this user is already scheduled or running")
            data = self._create(user_id, self.new_job_steps, project, None).to_json()
        return json_response({"data": data})


def _error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status=status)


def _query_int(request: web.Request, name: str, default: int) -> int:
    """Go's ``GetQueryParam(..., ParseInt, default)``: anything unparsable is the default."""
    raw = request.query.get(name, "")
    return int(raw) if _INTEGER.fullmatch(raw) else default

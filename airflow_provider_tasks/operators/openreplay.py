"""Operators for OpenReplay jobs: cancel a job, delete a user's data, list jobs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_tasks.exceptions import RemoteApiError, RemoteTaskFailed
from airflow_provider_tasks.hooks.openreplay import (
    ACTIVE_STATUSES,
    JOB_STATUS_STATES,
    MAX_USER_ID_LENGTH,
    OpenReplayHook,
)
from airflow_provider_tasks.links import OpenReplayJobLink
from airflow_provider_tasks.operators.base import RemoteTaskOperator, WaitingOperator
from airflow_provider_tasks.triggers.openreplay import OpenReplayJobTrigger
from airflow_provider_tasks.validation import is_template, require_positive_int, require_text_id, str_filter
from airflow_provider_tasks.waits.events import jsonable

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = ["OpenReplayCancelJobOperator", "OpenReplayDeleteUserDataOperator", "OpenReplayListJobsOperator"]


class _OpenReplayMixin:
    project_key: str | None
    hook: Any

    def _project(self) -> str | None:
        return self.project_key or None

    @property
    def openreplay_hook(self) -> OpenReplayHook:
        hook: OpenReplayHook = self.hook
        return hook


class OpenReplayCancelJobOperator(_OpenReplayMixin, RemoteTaskOperator):
    """Cancel an OpenReplay job, safely, and return it (XCom).

    The job is read first: ``scheduled``/``running`` is cancelled; already ``cancelled`` succeeds
    (logged); ``completed``/``failed`` raise :class:`~airflow_provider_tasks.exceptions.RemoteTaskFailed`
    unless ``fail_if_finished=False``. A ``failed`` job is never sent the cancel, because the server
    would overwrite ``failed`` with ``cancelled`` and lose the failure.

    :param job_id: the job id (templated).
    :param project_key: the project (templated; default: the connection's ``project_key`` extra).
    :param fail_if_finished: fail when the job already completed or failed (default True).
    :param openreplay_conn_id: Airflow connection id.
    """

    template_fields: Sequence[str] = ("job_id", "project_key")
    hook_class = OpenReplayHook
    link_class = OpenReplayJobLink
    operator_extra_links = (OpenReplayJobLink(),)

    def __init__(
        self,
        *,
        job_id: int | str,
        project_key: str | None = None,
        fail_if_finished: bool = True,
        openreplay_conn_id: str = OpenReplayHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=openreplay_conn_id, **kwargs)
        self.job_id = job_id
        self.project_key = project_key
        self.fail_if_finished = fail_if_finished
        if not is_template(job_id):
            require_positive_int("job_id", job_id)

    def execute(self, context: Context) -> dict[str, Any]:
        job_id = require_positive_int("job_id", self.job_id)
        hook, project = self.openreplay_hook, self._project()
        self.push_link(context, job_id)
        before = hook.get_job(job_id, project)
        status = before.get("status")
        if status in ACTIVE_STATUSES:
            self.log.info("OpenReplay job %s is %s; cancelling", job_id, status)
            # Read again before any second DELETE: a job that failed or completed meanwhile stays so.
            job = hook.cancel_if_active(job_id, project, job=before)
            status = job.get("status")
            if status == "cancelled":
                self.log.info("OpenReplay job %s is now cancelled", job_id)
                return dict(jsonable(job))
            self.log.warning("OpenReplay job %s ended %s before the cancel could land", job_id, status)
        elif status == "cancelled":
            self.log.info("OpenReplay job %s was already cancelled; nothing to do", job_id)
            return dict(jsonable(before))
        else:
            job = before
        hook.snapshot(job_id, job)  # an unknown status is an error naming it, never a cancel
        message = f"job is already {status}; it cannot be cancelled"
        if job.get("errors"):
            message += f" (errors: {job['errors']})"
        if self.fail_if_finished:
            raise RemoteTaskFailed(hook.service_name, message, item_id=job_id, code=status, details=jsonable(job))
        self.log.warning("OpenReplay job %s: %s; fail_if_finished=False, so succeeding", job_id, message)
        return dict(jsonable(job))


class OpenReplayDeleteUserDataOperator(_OpenReplayMixin, WaitingOperator):
    """Create a job deleting a user's data and return it (``jobId`` in XCom).

    When a job for that user is already scheduled or running (HTTP 409), that job is reused instead
    of failing. With ``wait_for_completion`` the task waits like the sensor and returns the final
    job; if that wait times out, or the task is killed, the job this task created is cancelled
    (best effort, logged, never hiding the original error).

    :param user_id: the user whose data to delete (templated; 1-256 characters).
    :param project_key: the project (templated; default: the connection's ``project_key`` extra).
    :param wait_for_completion: wait for the job to finish (jobs run once a night).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between checks while waiting (default 300).
    :param timeout: seconds to wait at most (default 7 days); the task's ``execution_timeout`` also ends
        the wait, whichever comes first, and either cancels the job this task created.
    :param openreplay_conn_id: Airflow connection id.
    """

    template_fields: Sequence[str] = ("user_id", "project_key")
    hook_class = OpenReplayHook
    trigger_class = OpenReplayJobTrigger
    link_class = OpenReplayJobLink
    operator_extra_links = (OpenReplayJobLink(),)

    def __init__(
        self,
        *,
        user_id: str,
        project_key: str | None = None,
        wait_for_completion: bool = False,
        deferrable: bool | None = None,
        poll_interval: float = 300.0,
        openreplay_conn_id: str = OpenReplayHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=openreplay_conn_id, deferrable=deferrable, poll_interval=poll_interval, **kwargs)
        self.user_id = user_id
        self.project_key = project_key
        self.wait_for_completion = wait_for_completion
        self._owned_job: int | None = None
        if not is_template(user_id):
            require_text_id("user_id", user_id, max_length=MAX_USER_ID_LENGTH)

    def _create_or_reuse(self, user_id: str) -> tuple[dict[str, Any], bool]:
        hook, project = self.openreplay_hook, self._project()
        try:
            job = hook.delete_user_data(user_id, project)
            self.log.info("OpenReplay deletion job %s created for user %r", job.get("jobId"), user_id)
            return job, True
        except RemoteApiError as error:
            if error.code != 409:
                raise
            active = hook.find_active_deletion_job(user_id, project)
            if active is None:
                raise
            self.log.info(
                "A deletion job for user %r is already %s: reusing job %s",
                user_id,
                active.get("status"),
                active.get("jobId"),
            )
            return active, False

    def execute(self, context: Context) -> dict[str, Any]:
        user_id = require_text_id("user_id", self.user_id, max_length=MAX_USER_ID_LENGTH)
        job, created = self._create_or_reuse(user_id)
        job_id = require_positive_int("jobId", job.get("jobId"))
        self.push_link(context, job_id)
        if not self.wait_for_completion:
            return dict(jsonable(job))
        # on_kill (poke mode) cancels only a job this task created, and only while it waits.
        self._owned_job = job_id if created else None
        final = self.wait(
            context,
            self.openreplay_hook.snapshot(job_id, job),
            trigger_kwargs={"project_key": self._project(), "cancel_on_kill": created},
            owned=created,
        )
        self._owned_job = None  # the wait ended on its own: nothing left to cancel
        return self.finish(context, final)

    def fetch_kwargs(self) -> dict[str, Any]:
        return {"project_key": self._project()}

    def waited_id(self, event: Any) -> int:
        # The job was created at run time; only the event still knows which one it was.
        return require_positive_int("job_id", event.get("id") if isinstance(event, dict) else None)

    def finish(self, context: Context, remote: dict[str, Any]) -> dict[str, Any]:
        return dict(remote)

    def on_wait_timeout(self, context: Context, item_id: str | int, limit: str) -> None:
        self._owned_job = None
        seconds = self.timeout if limit == "timeout" else self.execution_timeout
        self._cancel(int(item_id), f"the wait reached its {limit} ({seconds})")

    def on_kill(self) -> None:
        job_id, self._owned_job = self._owned_job, None
        if job_id is not None:
            self._cancel(job_id, "the task was killed")

    def _cancel(self, job_id: int, why: str) -> None:
        try:
            job = self.openreplay_hook.cancel_if_active(job_id, self._project())
            if job.get("status") == "cancelled":
                self.log.warning("Cancelled OpenReplay job %s, which this task created, because %s", job_id, why)
            else:
                self.log.info("OpenReplay job %s is %s; nothing to cancel after %s", job_id, job.get("status"), why)
        except Exception as error:  # best effort: the original error must stay the one reported
            self.log.warning("Could not cancel OpenReplay job %s after %s: %s", job_id, why, error)


class OpenReplayListJobsOperator(_OpenReplayMixin, RemoteTaskOperator):
    """List every job of a project (all pages, newest first) into XCom, optionally filtered.

    :param project_key: the project (templated; default: the connection's ``project_key`` extra).
    :param status: keep jobs in this status (templated; str or list: scheduled, running, completed,
        failed, cancelled). Rendered text works too: ``"completed,failed"``,
        ``"['completed', 'failed']"``; ``"None"`` or ``""`` means no filter.
    :param action: keep jobs with this action (templated, as ``status``; e.g. ``delete_user_data``).
    :param reference_id: keep jobs about this reference (the user id for deletion jobs).
    :param openreplay_conn_id: Airflow connection id.
    """

    template_fields: Sequence[str] = ("project_key", "status", "action", "reference_id")
    hook_class = OpenReplayHook
    link_class = OpenReplayJobLink

    def __init__(
        self,
        *,
        project_key: str | None = None,
        status: str | list[str] | None = None,
        action: str | list[str] | None = None,
        reference_id: str | None = None,
        openreplay_conn_id: str = OpenReplayHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=openreplay_conn_id, **kwargs)
        self.project_key = project_key
        self.status = status
        self.action = action
        self.reference_id = reference_id
        if not is_template(status):
            str_filter("status", status, list(JOB_STATUS_STATES))
        if not is_template(action):
            str_filter("action", action)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        statuses = str_filter("status", self.status, list(JOB_STATUS_STATES))
        actions = str_filter("action", self.action)
        jobs = [
            job
            for job in self.openreplay_hook.iter_jobs(self._project())
            if (statuses is None or job.get("status") in statuses)
            and (actions is None or job.get("action") in actions)
            and (self.reference_id is None or job.get("referenceId") == self.reference_id)
        ]
        self.log.info("OpenReplay: %d job(s) match", len(jobs))
        return list(jsonable(jobs))

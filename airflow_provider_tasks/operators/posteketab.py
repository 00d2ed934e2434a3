"""Operators for Post-e-Ketab tasks: fetch a task's result rows, list tasks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlsplit

from airflow_provider_tasks.exceptions import RemoteApiError, RemoteTaskFailed
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.json_stream import StreamedArray
from airflow_provider_tasks.links import PostEKetabTaskLink
from airflow_provider_tasks.operators.base import RemoteTaskOperator, WaitingOperator
from airflow_provider_tasks.triggers.posteketab import PostEKetabTaskTrigger
from airflow_provider_tasks.validation import int_filter, is_template, require_text_id
from airflow_provider_tasks.waits.events import jsonable

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = ["PostEKetabListTasksOperator", "PostEKetabTaskResultOperator", "failed_rows"]

_FALSE_VALUES = {"false", "0", "no", ""}
_MAX_LISTED_ROWS = 20


def _row_failed(row: Any) -> bool:
    # The docs type is_success as str: accept booleans and their spellings alike.
    if not isinstance(row, dict):
        return False
    value = row.get("is_success")
    if isinstance(value, str):
        return value.strip().lower() in _FALSE_VALUES
    return value is False or value == 0


def failed_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """The rows of a ``task_result`` whose ``is_success`` is false."""
    return [row for row in rows if _row_failed(row)]


def local_file(target: str) -> Path | None:
    """The local file that a ``file://`` URL or a plain path names; ``None`` for any other URL."""
    if "://" not in target:
        return Path(target)
    url = urlsplit(target)
    if url.scheme.lower() == "file" and url.netloc in ("", "localhost"):
        return Path(unquote(url.path))
    return None


def _describe_row(row: dict[str, Any]) -> str:
    ref = row.get("local_id", row.get("id"))
    return f"{ref}: {row.get('message')}"


class PostEKetabTaskResultOperator(WaitingOperator):
    """Return a Post-e-Ketab task's ``task_result`` rows (XCom), waiting for the task if needed.

    :param posteketab_task_id: the task id (templated).
    :param posteketab_conn_id: Airflow connection id.
    :param wait_for_completion: wait while the task is not finished; when False an unfinished task
        fails with code 369 ("task not finished").
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between checks while waiting (default 30).
    :param timeout: seconds to wait at most (default 7 days; ``execution_timeout`` also ends the wait).
    :param fail_on_row_errors: fail when any row has ``is_success`` false, listing them (rows are
        written to ``output_path`` first, so nothing is lost).
    :param output_path: a local path, a ``file://`` URL or an ``ObjectStoragePath`` URL (``s3://...``); the
        rows are written there as JSON Lines and the XCom holds ``{"path", "rows", "failed_rows"}`` instead
        of the rows. Local files are written directly, without ``ObjectStoragePath``.
    :param start_from_trigger: wait in the triggerer from the start (Airflow 3.3+; implies ``deferrable``):
        the worker runs once, to read the rows of the finished task.
    """

    template_fields: Sequence[str] = ("posteketab_task_id", "output_path")
    hook_class = PostEKetabHook
    trigger_class = PostEKetabTaskTrigger
    link_class = PostEKetabTaskLink
    operator_extra_links = (PostEKetabTaskLink(),)

    def __init__(
        self,
        *,
        posteketab_task_id: str,
        posteketab_conn_id: str = PostEKetabHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 30.0,
        fail_on_row_errors: bool = False,
        output_path: str | None = None,
        start_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        if start_from_trigger and (deferrable is False or not wait_for_completion):
            raise ValueError(
                "start_from_trigger=True waits in the triggerer: it needs deferrable and wait_for_completion"
            )
        deferrable = True if start_from_trigger else deferrable
        super().__init__(conn_id=posteketab_conn_id, deferrable=deferrable, poll_interval=poll_interval, **kwargs)
        self.posteketab_task_id = posteketab_task_id
        self.wait_for_completion = wait_for_completion
        self.fail_on_row_errors = fail_on_row_errors
        self.output_path = output_path
        if not is_template(posteketab_task_id):
            require_text_id("posteketab_task_id", posteketab_task_id)
        self.offer_wait_in_triggerer(start_from_trigger, posteketab_task_id)

    def waited_id(self, event: Any) -> str:
        return require_text_id("posteketab_task_id", self.posteketab_task_id)

    def execute(self, context: Context) -> Any:
        self.log_start_fallback(context)  # execute() never runs when the task started in the triggerer
        task_id = require_text_id("posteketab_task_id", self.posteketab_task_id)
        if self.output_path is not None and not str(self.output_path).strip():
            raise ValueError(f"output_path must be a storage URL or None, got {self.output_path!r}")
        hook = self.hook
        self.push_link(context, task_id)
        snapshot = hook.get_snapshot(task_id, **self.fetch_kwargs())
        if not snapshot.state.is_terminal and not self.wait_for_completion:
            raise RemoteApiError(
                hook.service_name,
                f"task is not finished ({snapshot.state.value}) and wait_for_completion is False",
                item_id=task_id,
                code=369,
            )
        return self.finish(context, self.wait(context, snapshot))

    def fetch_kwargs(self) -> dict[str, Any]:
        # With output_path the status reads leave the rows out; finish() streams them to the file.
        return {"rows": False} if self.output_path else {}

    def finish(self, context: Context, remote: dict[str, Any]) -> Any:
        task_id = require_text_id("posteketab_task_id", self.posteketab_task_id)
        hook = cast("PostEKetabHook", self.hook)
        if self.output_path:
            with hook.stream_task(task_id) as task:
                rows = self._rows_of(task)
                path, bad = self._write_rows(rows)
                result: Any = {"path": path, "rows": len(rows), "failed_rows": len(bad)}
        else:
            if remote.get("task_result") is None:
                # A task seen only through code 369 ("not finished") carries no rows: read them now.
                remote = hook.get_task(task_id)
            rows = self._rows_of(remote)
            bad = failed_rows(rows)
            result = jsonable(rows)
        self.log.info("Post-e-Ketab task %s: %d row(s), %d failed", task_id, len(rows), len(bad))
        if bad and self.fail_on_row_errors:
            listed = "; ".join(_describe_row(row) for row in bad[:_MAX_LISTED_ROWS])
            more = f" (and {len(bad) - _MAX_LISTED_ROWS} more)" if len(bad) > _MAX_LISTED_ROWS else ""
            raise RemoteTaskFailed(
                self.hook.service_name,
                f"{len(bad)} of {len(rows)} row(s) failed: {listed}{more}",
                item_id=task_id,
                code="row_errors",
                details=jsonable(bad),
            )
        return result

    def _rows_of(self, task: dict[str, Any]) -> list[Any] | StreamedArray:
        rows = task.get("task_result")
        if rows is None:
            return []
        if not isinstance(rows, list | StreamedArray):
            raise RemoteApiError(
                self.hook.service_name, f"task_result is not a list: {rows!r:.200}", item_id=self.posteketab_task_id
            )
        return rows

    def _write_rows(self, rows: Iterable[Any]) -> tuple[str, list[dict[str, Any]]]:
        """Write the rows as JSON Lines, one at a time; return the path and the failed rows."""
        shown, handle = self._open_output()
        bad: list[dict[str, Any]] = []
        written = 0
        with handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False))
                handle.write("\n")
                written += 1
                if _row_failed(row):
                    bad.append(row)
        self.log.info("Wrote %d row(s) to %s", written, shown)
        return shown, bad

    def _open_output(self) -> tuple[str, IO[str]]:
        target = str(self.output_path)
        # Local files skip ObjectStoragePath: Airflow 3.0's refuses every URL under universal-pathlib 0.3,
        # which 3.0 does not cap (3.1 caps it below 0.3, 3.2 adapted to it: apache/airflow#56270).
        local = local_file(target)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            return target, local.open("w", encoding="utf-8")
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        path = ObjectStoragePath(target)
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        return str(path), cast("IO[str]", path.open("w", encoding="utf-8"))  # type: ignore[no-untyped-call]


class PostEKetabListTasksOperator(RemoteTaskOperator):
    """List every Post-e-Ketab task (all pages) into XCom, optionally filtered.

    :param posteketab_task_type: keep tasks of this type (templated; int or list of ints: 0 Excel
        import, 1 bulk status change, 2 Excel export, 3 PDF export, 4 bulk registration). Rendered
        text works too: ``"3"``, ``"[0, 1]"``, ``"0,1"``; ``"None"`` or ``""`` means no filter.
    :param posteketab_task_status: keep tasks in this status (templated, as above; 0-4).
    :param posteketab_conn_id: Airflow connection id.
    :param page_size: tasks per request (default 100).
    """

    template_fields: Sequence[str] = ("posteketab_task_type", "posteketab_task_status")
    hook_class = PostEKetabHook
    link_class = PostEKetabTaskLink

    def __init__(
        self,
        *,
        posteketab_task_type: int | list[int] | None = None,
        posteketab_task_status: int | list[int] | None = None,
        posteketab_conn_id: str = PostEKetabHook.default_conn_name,
        page_size: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=posteketab_conn_id, **kwargs)
        self.posteketab_task_type = posteketab_task_type
        self.posteketab_task_status = posteketab_task_status
        self.page_size = page_size
        if not is_template(posteketab_task_type):
            int_filter("posteketab_task_type", posteketab_task_type)
        if not is_template(posteketab_task_status):
            int_filter("posteketab_task_status", posteketab_task_status)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        types = int_filter("posteketab_task_type", self.posteketab_task_type)
        statuses = int_filter("posteketab_task_status", self.posteketab_task_status)
        tasks = [
            task
            for task in cast("PostEKetabHook", self.hook).iter_tasks(count=self.page_size)
            if (types is None or task.get("task_type") in types)
            and (statuses is None or task.get("task_status") in statuses)
        ]
        self.log.info("Post-e-Ketab: %d task(s) match", len(tasks))
        return list(jsonable(tasks))

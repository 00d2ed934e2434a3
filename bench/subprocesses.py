"""Measuring subprocesses: a fresh interpreter per measurement, talking through :mod:`bench.protocol`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.protocol import parse

__all__ = ["MeasuringProcess", "base_env", "measuring_process"]

_LINE_LIMIT = 1 << 27  # a "done" message carries every event: one long line
_STOP_TIMEOUT = 30.0


def base_env(airflow_home: Path) -> dict[str, str]:
    """The environment of every measuring process: a throwaway Airflow home, logging at ERROR
    (so no implementation pays for log output, e.g. the HTTP provider's warning on every 404)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")}
    env.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


class MeasuringProcess:
    """A running ``python -m <module>`` whose marked stdout lines are messages."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def expect(self, kind: str, timeout: float) -> dict[str, Any]:
        """The next message; it must be of ``kind`` (an ``error`` message or an exit raises)."""
        message = await asyncio.wait_for(self._next_message(), timeout)
        if message["kind"] == "error":
            raise RuntimeError(f"measuring process failed:\n{message.get('message')}")
        if message["kind"] != kind:
            raise RuntimeError(f"expected a {kind!r} message, got {message['kind']!r}")
        return message

    async def _next_message(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            raw = await self.process.stdout.readline()
            if not raw:
                code = await self.process.wait()
                raise RuntimeError(f"measuring process exited ({code}) without a message")
            message = parse(raw.decode(errors="replace"))
            if message is not None:
                return message


@contextlib.asynccontextmanager
async def measuring_process(
    module: str, args: Sequence[str], env: Mapping[str, str], log_path: Path
) -> AsyncIterator[MeasuringProcess]:
    """Run ``python -m module *args``; wait for it (or kill it) on exit."""
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=dict(env),
            limit=_LINE_LIMIT,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    try:
        yield MeasuringProcess(process)
        await asyncio.wait_for(process.wait(), _STOP_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

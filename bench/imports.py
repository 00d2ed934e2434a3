"""Import cost of the package's public modules, beyond ``airflow.sdk`` alone (fresh interpreters)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import settings
from bench.stats import median, rounded
from bench.subprocesses import base_env, measuring_process

__all__ = ["measure_imports"]

_TIMEOUT = 120.0


async def _probe(mode: str, env: dict[str, str], log: Path) -> dict[str, Any]:
    async with measuring_process("bench.import_probe", [mode], env, log) as probe:
        return await probe.expect("imports", _TIMEOUT)


async def measure_imports(workdir: Path, runs: int = settings.IMPORT_RUNS) -> dict[str, Any]:
    """Median over ``runs`` fresh interpreters of each kind (interleaved, after one discarded pair
    that warms the disk cache and writes the bytecode cache).

    Modules load from cached bytecode, as they do in a deployment after the first parse (pip also
    compiles at install); compiling sources at every import would time the compiler, not the imports.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env = base_env(workdir / "airflow-home")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "bytecode")
    log = workdir / "imports.log"
    sdk: list[float] = []
    package: list[float] = []
    incremental: list[float] = []
    modules: list[str] = []
    for number in range(runs + 1):
        alone = await _probe("sdk", env, log)
        whole = await _probe("package", env, log)
        if number == 0:
            continue
        sdk.append(alone["sdk_s"])
        incremental.append(alone["package_after_sdk_s"])
        package.append(whole["package_s"])
        modules = whole["modules"]
    sdk_ms, package_ms = 1000 * (median(sdk) or 0.0), 1000 * (median(package) or 0.0)
    return {
        "runs": runs,
        "bytecode": "cached (PYTHONPYCACHEPREFIX), as an installed package runs",
        "modules": modules,
        # The target's figure: in each fresh interpreter, airflow.sdk is imported (and timed) alone, then
        # every public module is timed on top of it. The difference of two separate interpreters' medians
        # (below) says the same but carries the run-to-run spread of a 3-second import (some 300 ms).
        "beyond_airflow_sdk_ms": rounded(1000 * (median(incremental) or 0.0), 1),
        "airflow_sdk_alone_ms": rounded(sdk_ms, 1),
        "public_modules_alone_ms": rounded(package_ms, 1),
        "difference_of_separate_medians_ms": rounded(package_ms - sdk_ms, 1),
        "samples_ms": {
            "airflow_sdk_alone": [rounded(1000 * value, 1) for value in sdk],
            "public_modules_alone": [rounded(1000 * value, 1) for value in package],
            "public_modules_after_airflow_sdk": [rounded(1000 * value, 1) for value in incremental],
        },
    }

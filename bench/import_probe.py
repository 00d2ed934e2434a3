"""Subprocess entry: time imports in this fresh interpreter (``python -m bench.import_probe MODE``).

``sdk``
    ``import airflow.sdk`` alone, then (for the record) every public module of the package on top;
``package``
    every public module of the package, nothing imported before.

Only the import statements are timed (``time.perf_counter()``), not the interpreter's start.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.protocol import emit

__all__ = ["PUBLIC_LAYERS", "main", "public_modules"]

PACKAGE = "airflow_provider_tasks"
#: Layers whose every module is public (SPEC §2), plus the two top-level public modules.
PUBLIC_LAYERS: tuple[str, ...] = ("hooks", "sensors", "operators", "triggers")
PUBLIC_TOP_LEVEL: tuple[str, ...] = ("exceptions", "get_provider_info")


def public_modules() -> list[str]:
    """Every public module of the package, found on disk (nothing but the top package is imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    modules: list[str] = []
    for layer in PUBLIC_LAYERS:
        modules.append(f"{PACKAGE}.{layer}")
        modules += [
            f"{PACKAGE}.{layer}.{info.name}"
            for info in sorted(pkgutil.iter_modules([str(root / layer)]), key=lambda info: info.name)
            if not info.name.startswith("_")
        ]
    modules += [f"{PACKAGE}.{name}" for name in PUBLIC_TOP_LEVEL]
    return modules


def _timed_imports(names: Sequence[str]) -> float:
    start = time.perf_counter()
    for name in names:
        importlib.import_module(name)
    return time.perf_counter() - start


def main(argv: Sequence[str]) -> int:
    mode = argv[0] if argv else "package"
    modules = public_modules()
    if mode == "sdk":
        sdk = _timed_imports(["airflow.sdk"])
        emit("imports", mode=mode, sdk_s=sdk, package_after_sdk_s=_timed_imports(modules), modules=modules)
    else:
        emit("imports", mode=mode, package_s=_timed_imports(modules), modules=modules)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

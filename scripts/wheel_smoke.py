"""``make test-wheel``: what a user installs, tested the way a user gets it.

1. build the sdist and the wheel from the tracked files (no warning allowed), ``twine check --strict``;
2. check the wheel (LICENSE, License-Expression, only the ``apache_airflow_provider`` entry point, no
   tests inside) and the sdist (everything its tests need);
3. install the wheel with ``apache-airflow==VERSION`` into a new virtual environment (uv), nothing else;
4. there, import every module of the package (none may load the test double or the pytest plugin;
   the plugin must fail for want of pytest alone) and check that Airflow's ProvidersManager
   registers the provider at this version;
5. run example DAGs from the unpacked sdist with ``airflow dags test`` against the simulator the
   wheel ships;
6. be a newcomer following the sdist's README: start the simulator with the README's command, paste
   the ``export`` lines it prints into a shell (the JSON block, then the URI block), save the README's
   own DAG (not an example DAG) in a fresh ``AIRFLOW_HOME``, and run the README's commands
   (``airflow connections test``, ``airflow dags test my_first_wait ...``) in that shell;
7. install the dev extra and run part of the sdist's own test suite from the unpacked sdist.

Prints one line per step with its wall time; exits non-zero at the first failure. ``--keep`` keeps
the work directory (the DAG logs are in ``logs/``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/ is not a package

from demo import free_port, launch_simulator, outcome, start_simulator
from dists import (
    DistError,
    build_dists,
    check_sdist,
    check_wheel,
    clean_env,
    install_wheel,
    unpack_sdist,
)

# Every public module, named so that a module lost from the wheel fails by name.
PUBLIC_MODULES = [
    *(f"airflow_provider_tasks.{layer}.{service}" for layer in ("hooks", "sensors", "triggers") for service in
      ("posteketab", "openreplay", "mobizon")),
    "airflow_provider_tasks.operators.posteketab",
    "airflow_provider_tasks.operators.openreplay",
    "airflow_provider_tasks.exceptions",
    "airflow_provider_tasks.links",
    "airflow_provider_tasks.get_provider_info",
    "airflow_provider_tasks.simulator",
    "airflow_provider_tasks.simulator.server",
    "airflow_provider_tasks.testing",
]  # fmt: skip

IMPORT_CHECK = """
import importlib, importlib.metadata as md, json, pkgutil, sys
from pathlib import Path
import airflow_provider_tasks as pkg
where = Path(pkg.__file__).resolve()
assert where.is_relative_to(Path(sys.prefix).resolve()), f"imported from {where}, not the venv"
public = json.loads(sys.argv[1])
names = sorted(m.name for m in pkgutil.walk_packages(pkg.__path__, "airflow_provider_tasks."))
missing = sorted(set(public) - set(names))
assert not missing, f"not in the wheel: {missing}"
test_only = ["airflow_provider_tasks.testing", "airflow_provider_tasks.simulator.pytest_plugin"]
for name in names:
    if name not in test_only:
        importlib.import_module(name)
loaded = sorted(set(test_only) & set(sys.modules))
assert not loaded, f"runtime modules import test code: {loaded}"
importlib.import_module("airflow_provider_tasks.testing")
try:  # pytest is not installed here: the plugin must need nothing else
    importlib.import_module("airflow_provider_tasks.simulator.pytest_plugin")
except ModuleNotFoundError as exc:
    assert exc.name == "pytest", exc
else:
    raise AssertionError("pytest is installed in the clean environment")
from airflow_provider_tasks.get_provider_info import get_provider_info
from airflow.providers_manager import ProvidersManager
info = ProvidersManager().providers["airflow-provider-tasks"]
assert info.version == pkg.__version__ == get_provider_info()["versions"][0], info.version
ours = [ep for ep in md.entry_points(group="pytest11") if ep.value.startswith("airflow_provider_tasks")]
assert not ours, ours
files = [str(f) for f in md.distribution("airflow-provider-tasks").files or []]
assert any(f.endswith(".dist-info/licenses/LICENSE") for f in files), "LICENSE not installed"
print(f"{len(names)} modules imported from {where.parent}; provider {info.version} registered")
"""

# The sdist's tests worth their time here: the installed metadata and plugin, provider info against
# Airflow's schema, the simulator, sensors in every mode, the example DAGs parsing. Not the Airflow CLI
# (step 4 covers the registration) nor make demo (step 5). The full suite runs in make unit.
SDIST_TESTS = [
    "tests/test_packaging.py",
    "tests/test_provider_info.py",
    "tests/test_sensors.py",
    "tests/simulator/test_sim_server.py",
    "tests/test_example_dags.py",
]
SDIST_TESTS_DESELECT = "not make_demo and not airflow_cli"


@contextmanager
def step(name: str, timings: dict[str, float]) -> Iterator[None]:
    print(f"wheel-smoke: {name} ...", flush=True)
    started = time.monotonic()
    yield
    timings[name] = time.monotonic() - started
    print(f"wheel-smoke: {name}: ok in {timings[name]:.1f}s", flush=True)


def run(command: list[str], log: Path | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``command``; on failure raise with its output's tail (the whole output goes to ``log``)."""
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    output = result.stdout + result.stderr
    if log:
        log.write_text(output)
    if result.returncode != 0:
        raise DistError(f"{' '.join(map(str, command[:4]))} ... exited {result.returncode}:\n{output[-4000:]}")
    return result


def run_dags(python: Path, work: Path, dags: Path, dag_ids: list[str]) -> list[str]:
    """``airflow dags test`` each DAG against the wheel's simulator; return one line per DAG."""
    home = work / "airflow"
    (work / "logs").mkdir(exist_ok=True)
    env = clean_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PROVIDER_TASKS_EXAMPLE_POLL_SECONDS="1",
        PYTHONPATH=str(dags),  # the example DAGs share example_dags/_settings.py
    )
    airflow = [str(python), "-m", "airflow"]
    sim, conns = start_simulator(env, python=str(python))
    env.update(conns)
    lines = []
    try:
        run([*airflow, "db", "migrate"], log=work / "logs" / "db-migrate.log", env=env, cwd=work, timeout=600)
        for dag_id in dag_ids:
            started = time.monotonic()
            log = work / "logs" / f"{dag_id}.log"
            result = subprocess.run(
                [*airflow, "dags", "test", dag_id], env=env, cwd=work, capture_output=True, text=True, timeout=900
            )
            log.write_text(result.stdout + result.stderr)
            state, report = outcome(home / "airflow.db", dag_id)
            if result.returncode != 0 or state != "success":
                tail = (result.stdout + result.stderr)[-4000:]
                raise DistError(f"airflow dags test {dag_id}: exit {result.returncode}, state {state}\n{tail}")
            lines.append(f"{dag_id}: {state} in {time.monotonic() - started:.0f}s - {report}")
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    return lines


def readme_block(readme: str, language: str, containing: str) -> str:
    """The README's one fenced ``language`` block that contains ``containing``."""
    blocks = re.findall(rf"^```{language}\n(.*?)^```", readme, flags=re.DOTALL | re.MULTILINE)
    found = [block for block in blocks if containing in block]
    if len(found) != 1:
        raise DistError(f"README: expected one {language} block with {containing!r}, found {len(found)}")
    return found[0]


def newcomer(python: Path, work: Path, readme: str) -> list[str]:
    """Follow the README's "Testing your DAGs without an account" in a fresh AIRFLOW_HOME."""
    home = work / "newcomer"
    home.mkdir()
    (work / "logs").mkdir(exist_ok=True)
    env = clean_env(
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",  # not the README's business; saves parsing Airflow's examples
        PATH=f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",  # an activated venv: python, airflow
        PYTHONUNBUFFERED="1",
    )
    start = readme_block(readme, "bash", "python -m airflow_provider_tasks.simulator").strip()
    # The README's command, on a free port instead of 8765 (other things may run on this machine).
    args = start.removeprefix("python -m airflow_provider_tasks.simulator").replace("--port 8765", "").split()
    args = [arg for arg in args if arg != "--port"]
    sim, banner = launch_simulator(env, str(python), scenario=args[args.index("--scenario") + 1], port=free_port())
    try:
        dag = readme_block(readme, "python", "my_first_wait")
        where = dag.splitlines()[0].removeprefix("# ").replace("$AIRFLOW_HOME", env["AIRFLOW_HOME"])
        Path(where).parent.mkdir(parents=True, exist_ok=True)
        Path(where).write_text(dag, encoding="utf-8")
        commands = readme_block(readme, "bash", "airflow dags test my_first_wait")
        ids = re.findall(r"[0-9a-f]{8}-[0-9a-f-]{27}|\b\d{4}\b", commands)
        printed = {item_id for _, item_id in banner.items}
        if not set(ids) <= printed:
            raise DistError(f"README: the ids of its command {ids} are not among those the simulator printed {printed}")
        lines = []
        for form in ("json", "uri"):
            pasted = "\n".join(banner.lines[form])  # as printed: what a user copies
            log = work / "logs" / f"newcomer-{form}.log"
            started = time.monotonic()
            run(["bash", "-ec", f"{pasted}\n{commands}"], log=log, env=env, cwd=home, timeout=900)
            with sqlite3.connect(home / "airflow" / "airflow.db") as db:
                states = dict(
                    db.execute(
                        "SELECT task_id, state FROM task_instance WHERE dag_id='my_first_wait' AND run_id ="
                        " (SELECT run_id FROM dag_run WHERE dag_id='my_first_wait' ORDER BY id DESC LIMIT 1)"
                    ).fetchall()
                )
            if not states or set(states.values()) != {"success"}:
                raise DistError(f"my_first_wait with the {form.upper()} exports: {states}; see {log}")
            lines.append(
                f"{form.upper()} exports: my_first_wait {sorted(states)} success in {time.monotonic() - started:.0f}s"
            )
        return lines
    finally:
        sim.terminate()
        sim.wait(timeout=30)


def smoke(work: Path, airflow: str, dag_ids: list[str], sdist_tests: bool) -> dict[str, float]:
    timings: dict[str, float] = {}
    with step("build sdist + wheel, twine check --strict, no warnings", timings):
        built = build_dists(work / "dist")
        print(f"  {built.wheel.name} ({built.wheel.stat().st_size // 1024} KiB), {built.sdist.name}")
    with step("check wheel and sdist contents", timings):
        check_wheel(built.wheel, version=_version(built.wheel))
        check_sdist(built.sdist)
        source = unpack_sdist(built.sdist, work / "sdist")
    with step(f"clean venv: the wheel + apache-airflow=={airflow}", timings):
        python = install_wheel(work / "venv", built.wheel, airflow=airflow)
    with step("import every module, provider registered", timings):
        env = clean_env(AIRFLOW_HOME=str(work / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
        result = run([str(python), "-c", IMPORT_CHECK, json.dumps(PUBLIC_MODULES)], env=env, cwd=work, timeout=300)
        print(f"  {result.stdout.strip()}")
    with step(f"airflow dags test {' '.join(dag_ids)} (DAGs from the sdist)", timings):
        for line in run_dags(python, work, source / "example_dags", dag_ids):
            print(f"  {line}")
    with step("a newcomer follows the README: simulator, pasted exports, a DAG of their own", timings):
        for line in newcomer(python, work, (source / "README.md").read_text(encoding="utf-8")):
            print(f"  {line}")
    if sdist_tests:
        with step("sdist's tests against the installed wheel", timings):
            install_wheel(work / "venv", built.wheel, airflow=airflow, extras=["dev"])
            # bin/pytest, not python -m pytest: the sdist's root stays off sys.path, so the tests
            # import the installed wheel, not the sdist's copy of the package.
            pytest = [str(python.parent / "pytest"), "-q", "-p", "no:cacheprovider", *SDIST_TESTS]
            result = run([*pytest, "-k", SDIST_TESTS_DESELECT], env=clean_env(), cwd=source, timeout=900)
            print(f"  {result.stdout.strip().splitlines()[-1]}")
    return timings


def _version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--airflow", default=os.environ.get("AIRFLOW_VERSION", "3.3.2"), help="Airflow version")
    parser.add_argument("--dag", action="append", dest="dags", help="DAG id to run (repeatable)")
    parser.add_argument("--no-sdist-tests", action="store_true", help="skip running the sdist's tests")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="provider-tasks-wheel-"))
    started = time.monotonic()
    ok = False
    try:
        timings = smoke(work, args.airflow, args.dags or ["example_pipeline"], not args.no_sdist_tests)
        ok = True
    except (DistError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"wheel-smoke: FAILED: {exc}", file=sys.stderr)
    finally:
        if args.keep or not ok:
            print(f"wheel-smoke: work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not ok:
        return 1
    print(f"wheel-smoke: all {len(timings)} steps passed in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

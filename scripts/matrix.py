"""``make test-matrix``: the unit suite and every example DAG on each Airflow minor, from the installed wheel.

For each Airflow version given (default: the latest patch of every minor the package claims), this
script creates a fresh virtual environment, installs ``apache-airflow==VERSION`` with the wheel built
from this checkout (``[dev]`` plus the ``airflow-X-Y`` extra when the wheel has one for that minor,
as a user would install it), then

- runs the unit suite (``tests/`` less ``tests/e2e`` and the ``make demo`` test) from a copy of
  ``tests/`` outside the source tree, so ``import airflow_provider_tasks`` is the installed wheel
  (checked before the run: the script stops if it resolves anywhere else);
- runs every example DAG with ``airflow dags test`` against the bundled simulator (``scripts/demo.py``
  with the venv's Python, in a working directory outside the source tree).

It prints one line per version, e.g. ``Airflow 3.0.6: unit 1030 passed, 0 failed; dags 4/4 OK (5m02s)``,
a closing ``matrix: N passed, N failed`` line (unit tests plus DAG runs), and exits non-zero if
anything failed. ``--jobs N`` runs N versions at once (the suite mostly waits on timers: one version
uses about a quarter of a core); each version's pytest summary is then printed when it ends instead
of streaming its output. ``--lite 3.0.6,3.1.8`` runs those versions' fault matrix under three
representative faults only (every sensor mode, operator and hook method still runs).

Virtual environments and logs go to ``--venvs`` (default ``~/.cache/airflow-provider-tasks/matrix``):
``af-VERSION/`` and ``af-VERSION.run/`` (the copied tests, ``unit.log``, ``unit.xml``, ``dags.log`` and
the DAG runs' Airflow home).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The latest patch of each Airflow minor the package claims (pyproject.toml's apache-airflow range).
VERSIONS = ("2.11.2", "3.0.6", "3.1.8", "3.2.2", "3.3.2")
#: ``--lite`` runs of the fault matrix keep every target (each sensor mode, operator and hook method) under
#: these faults only: a 5xx, a connection dropped mid-answer, a cut-off body. The full matrix is 566 cells,
#: three quarters of the suite's time, and exercises our retry code more than Airflow's.
LITE_FAULTS = ("http-503", "dropped-mid-response", "truncated-json")
DEFAULT_VENVS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "airflow-provider-tasks" / "matrix"


@dataclass
class Result:
    version: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    dags_ok: int = 0
    dags_total: int = 0
    problems: list[str] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)
    ran_unit: bool = False
    ran_dags: bool = False
    lite: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failed and self.dags_ok == self.dags_total

    def line(self) -> str:
        parts = []
        if self.ran_unit:
            skipped = f", {self.skipped} skipped" if self.skipped else ""
            lite = f" (lite: fault matrix under {', '.join(LITE_FAULTS)} only)" if self.lite else ""
            parts.append(f"unit {self.passed} passed, {self.failed} failed{skipped}{lite}")
        if self.ran_dags:
            verdict = "OK" if self.dags_ok == self.dags_total else "FAILED"
            parts.append(f"dags {self.dags_ok}/{self.dags_total} {verdict}")
        parts += self.problems
        took = " ".join(f"{name} {_minutes(seconds)}" for name, seconds in self.times.items())
        total = _minutes(sum(self.times.values()))
        return f"Airflow {self.version}: {'; '.join(parts) or 'nothing ran'} ({total}: {took})"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def _run(cmd: list[str], *, log: Path | None = None, echo: bool = True, **kwargs: object) -> int:
    """Run ``cmd``; stream its output to stdout (if ``echo``) and to ``log``; return its exit code."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs) as proc:  # type: ignore[call-overload]
        assert proc.stdout is not None
        out = log.open("w", encoding="utf-8") if log else None
        try:
            for line in proc.stdout:
                if echo:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                if out:
                    out.write(line)
                    out.flush()  # the logs can be followed while versions run side by side
        finally:
            if out:
                out.close()
        return int(proc.wait())


def find_uv() -> str:
    for candidate in (Path(sys.executable).parent / "uv", shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise SystemExit("uv not found: run this with the dev venv's Python (make test-matrix) or put uv on PATH")


def build_wheel(uv: str, out: Path) -> Path:
    subprocess.run([uv, "build", "--wheel", "--quiet", "--out-dir", str(out), str(ROOT)], check=True)
    wheels = sorted(out.glob("airflow_provider_tasks-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one wheel in {out}, found {wheels}")
    return wheels[0]


def wheel_extras(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    return set(re.findall(r"^Provides-Extra: (\S+)$", metadata, re.MULTILINE))


def clean_env(venv: Path) -> dict[str, str]:
    """The caller's environment less anything that would point Airflow or Python elsewhere."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIRFLOW") and key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def install(uv: str, python: str, venv: Path, version: str, wheel: Path, extras: set[str]) -> None:
    major, minor = version.split(".")[:2]
    wanted = ["dev", *sorted({f"airflow-{major}-{minor}"} & extras)]
    subprocess.run([uv, "venv", "--quiet", "--clear", "--python", python, str(venv)], check=True)
    requirement = f"{wheel}[{','.join(wanted)}]"
    print(f"== Airflow {version}: installing apache-airflow=={version} {wheel.name}[{','.join(wanted)}]", flush=True)
    python = str(venv / "bin" / "python")
    airflow = f"apache-airflow=={version}"
    subprocess.run([uv, "pip", "install", "--quiet", "--python", python, airflow, requirement], check=True)


def check_installed(venv: Path, run: Path, version: str) -> str | None:
    """``None`` if the venv imports Airflow ``version`` and our package from its site-packages."""
    code = "import airflow, airflow_provider_tasks as p; print(airflow.__version__); print(p.__file__)"
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], cwd=run, env=clean_env(venv), capture_output=True, text=True
    )
    if found.returncode:
        return f"import failed: {found.stderr.strip()[-300:]}"
    airflow_version, location = found.stdout.split()[-2:]
    print(f"== Airflow {airflow_version}: airflow_provider_tasks from {location}", flush=True)
    if airflow_version != version:
        return f"Airflow {airflow_version} installed, not {version}"
    if "site-packages" not in location or not Path(location).resolve().is_relative_to(venv.resolve()):
        return f"airflow_provider_tasks imported from {location}, not the installed wheel"
    return None


def stage(run: Path) -> None:
    """A copy of tests/, example_dags/ and what the tests read, outside the source tree (no package beside them)."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".hypothesis")
    shutil.copytree(ROOT / "tests", run / "tests", ignore=ignore)
    shutil.copytree(ROOT / "example_dags", run / "example_dags", ignore=ignore)
    # What the tests read beside tests/: the README's examples, the docs pages and their sync script.
    shutil.copy(ROOT / "README.md", run / "README.md")
    if (ROOT / "docs").is_dir():
        shutil.copytree(ROOT / "docs", run / "docs", ignore=ignore)
    if (ROOT / "scripts" / "sync_docs.py").exists():
        (run / "scripts").mkdir()
        shutil.copy(ROOT / "scripts" / "sync_docs.py", run / "scripts" / "sync_docs.py")


def run_unit(venv: Path, run: Path, result: Result, pytest_args: list[str], echo: bool) -> None:
    report = run / "unit.xml"
    keywords = "not make_demo"
    if result.lite:
        keywords += f" and (not test_fault_cell or {' or '.join(LITE_FAULTS)})"
    cmd = [
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "-q",
        "-rfEs",  # say why each test was skipped, per minor
        "-p",
        "no:cacheprovider",
        "-c",
        str(ROOT / "pyproject.toml"),
        "--rootdir",
        str(run),
        f"--junitxml={report}",
        "--ignore",
        str(run / "tests" / "e2e"),
        "-k",
        keywords,
        *(pytest_args or [str(run / "tests")]),
    ]
    print(f"== Airflow {result.version}: unit suite", flush=True)
    code = _run(cmd, log=run / "unit.log", echo=echo, cwd=run, env=clean_env(venv))
    result.ran_unit = True
    if not report.exists():
        result.problems.append(f"pytest exited {code} without a report")
        return
    suites = ET.parse(report).getroot()
    for suite in suites.iter("testsuite"):
        tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        result.passed += tests - skipped - failed
        result.failed += failed
        result.skipped += skipped
    if code and not result.failed:
        result.problems.append(f"pytest exited {code}")


def run_dags(venv: Path, run: Path, result: Result, echo: bool) -> None:
    print(f"== Airflow {result.version}: example DAGs (airflow dags test)", flush=True)
    log = run / "dags.log"
    code = _run(
        [str(venv / "bin" / "python"), str(ROOT / "scripts" / "demo.py"), "--work", str(run / "demo")],
        log=log,
        echo=echo,
        cwd=run,
        env=clean_env(venv),
    )
    result.ran_dags = True
    lines = log.read_text(encoding="utf-8").splitlines()
    outcomes = [line for line in lines if line.startswith(("OK ", "FAIL "))]
    result.dags_total = max(len(outcomes), 1)
    result.dags_ok = sum(line.startswith("OK ") for line in outcomes)
    where = next((line for line in lines if "airflow_provider_tasks from" in line), "")
    if not where or str(venv.resolve()) not in str(Path(where.rpartition(" from ")[2]).resolve()):
        result.problems.append(f"DAGs ran with another airflow_provider_tasks ({where or 'not reported'})")
    if code and result.dags_ok == result.dags_total:
        result.problems.append(f"demo exited {code}")


def run_version(result: Result, args: argparse.Namespace, uv: str, wheel: Path, extras: set[str], echo: bool) -> Result:
    """Install, check, run the unit suite and the DAGs for one Airflow version; fill ``result``."""
    version = result.version
    venv, run = args.venvs / f"af-{version}", args.venvs / f"af-{version}.run"
    began = time.monotonic()
    try:
        stage(run)
        install(uv, args.python, venv, version, wheel, extras)
    except subprocess.CalledProcessError as error:
        result.problems.append(f"install failed ({error.returncode})")
        return result
    finally:
        result.times["install"] = time.monotonic() - began
    problem = check_installed(venv, run, version)
    if problem:
        result.problems.append(problem)
        return result
    pytest_args = [str(run / part) if part.startswith("tests") else part for part in args.pytest_args.split()]
    if args.only != "dags":
        began = time.monotonic()
        run_unit(venv, run, result, pytest_args, echo)
        result.times["unit"] = time.monotonic() - began
    if args.only != "unit":
        began = time.monotonic()
        run_dags(venv, run, result, echo)
        result.times["dags"] = time.monotonic() - began
    return result


def summary_of(run: Path) -> str:
    """pytest's short summary and closing line, and the DAG verdicts, from one version's logs."""
    shown = []
    unit = run / "unit.log"
    if unit.exists():
        lines = unit.read_text(encoding="utf-8", errors="replace").splitlines()
        start = next((i for i, line in enumerate(lines) if "short test summary info" in line), len(lines) - 1)
        shown += lines[max(start, 0) :]
    dags = run / "dags.log"
    if dags.exists():
        shown += [line for line in dags.read_text(encoding="utf-8").splitlines() if line.startswith(("OK ", "FAIL "))]
    return "".join(f"  {run.name.removesuffix('.run')} | {line}\n" for line in shown)


def main() -> int:
    parser = argparse.ArgumentParser(description="Unit suite and example DAGs on each Airflow minor, from the wheel.")
    parser.add_argument("versions", nargs="*", default=list(VERSIONS), help=f"Airflow versions (default {VERSIONS})")
    parser.add_argument("--venvs", type=Path, default=DEFAULT_VENVS, help="where the venvs and logs go")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venvs (default: this one)")
    parser.add_argument("--only", choices=("unit", "dags"), help="run only the unit suite or only the DAGs")
    parser.add_argument("--wheel", type=Path, help="use this wheel instead of building one from the checkout")
    parser.add_argument(
        "--pytest-args",
        default="",
        help="replace the unit suite's paths with these (relative to the copied tests/, e.g. 'tests/test_sensors.py')",
    )
    parser.add_argument("--jobs", type=int, default=1, help="versions run at once (logs are then not streamed)")
    parser.add_argument(
        "--lite",
        type=lambda text: {part for part in text.split(",") if part},
        default=set(),
        help=f"comma-separated versions whose fault matrix runs under {', '.join(LITE_FAULTS)} only",
    )
    args = parser.parse_args()
    uv = find_uv()
    args.venvs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="provider-tasks-wheel-") as dist:
        wheel = args.wheel.resolve() if args.wheel else build_wheel(uv, Path(dist))
        extras = wheel_extras(wheel)
        print(f"matrix: {wheel.name} (extras {sorted(extras)}) on Airflow {', '.join(args.versions)}", flush=True)
        results = [Result(version, lite=version in args.lite) for version in args.versions]
        echo = args.jobs == 1
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for result in pool.map(lambda r: run_version(r, args, uv, wheel, extras, echo), results):
                if not echo:  # the logs were not streamed: show each version's verdicts as it ends
                    print(summary_of(args.venvs / f"af-{result.version}.run"), end="", flush=True)
                print(result.line(), flush=True)
    took = _minutes(time.monotonic() - started)
    print(f"\nmatrix: {len(results)} Airflow version(s) in {took}; logs in {args.venvs}")
    for result in results:
        print(result.line())
    passed = sum(r.passed + r.dags_ok for r in results)
    failed = sum(r.failed + (r.dags_total - r.dags_ok) + len(r.problems) for r in results)
    print(f"matrix: {passed} passed, {failed} failed")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

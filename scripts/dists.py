"""Build the sdist and the wheel, check them, and install the wheel into a clean virtual environment.

The one place that knows how the distributions are made and what they must contain. Used by
``scripts/wheel_smoke.py`` (``make test-wheel``); anything else that needs the built wheel (a run per
Airflow version, say) calls the same functions::

    sys.path.insert(0, "scripts")
    from dists import build_dists, check_wheel, install_wheel

    built = build_dists(out_dir)                    # sdist + wheel of the tracked tree, warning-free
    check_wheel(built.wheel)                        # LICENSE, entry points, no test code in it
    python = install_wheel(venv_dir, built.wheel, airflow="3.3.2")

or from a shell: ``python scripts/dists.py OUT_DIR`` prints the wheel's and the sdist's paths.
Needs ``build``, ``twine`` (the dev extra) and ``uv`` (the Makefile installs it into ``.venv``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST_NAME = "airflow-provider-tasks"
# Any line a build prints with one of these words fails the build: deprecations turn into errors later.
WARNING_LINE = re.compile(r"warn|deprecat", re.IGNORECASE)
# Everything the sdist's own tests need (tests/test_example_dags.py runs scripts/demo.py, tests/test_docs.py
# reads docs/ with scripts/sync_docs.py).
SDIST_REQUIRED = (
    "LICENSE",
    "README.md",
    "CHANGELOG.md",
    "pyproject.toml",
    "airflow_provider_tasks/py.typed",
    "example_dags/_settings.py",
    "scripts/demo.py",
    "scripts/sync_docs.py",
    "docs/index.md",
    "tests/conftest.py",
    "tests/_helpers.py",
    "tests/_secret_guard.py",
    "tests/simulator/conftest.py",
    "tests/faults/conftest.py",
    "tests/e2e/deployment.py",
)
# Environment variables that would leak this checkout or its virtual environment into a clean one.
_LEAKY_ENV = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PIP_REQUIRE_VIRTUALENV")


class DistError(AssertionError):
    """A distribution is not what it must be (the message says how)."""


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path
    log: str  # what the build printed


def clean_env(**extra: str) -> dict[str, str]:
    """``os.environ`` without what points at this checkout's environment, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if key not in _LEAKY_ENV and not key.startswith("AIRFLOW")}
    env.update(extra)
    return env


def find_uv() -> str:
    """uv next to this interpreter (the Makefile installs it into .venv), else on PATH."""
    here = Path(sys.executable).parent / "uv"
    found = str(here) if here.exists() else shutil.which("uv")
    if not found:
        raise DistError("uv not found next to the interpreter or on PATH (pip install uv)")
    return found


def copy_source(dest: Path, src: Path = ROOT) -> Path:
    """Copy the files git would commit (tracked, plus new ones not ignored) to ``dest``.

    Building from a copy keeps stale ``*.egg-info``, ``build/`` and caches of the working tree out of
    the sdist, and keeps the build from writing into the tree. Outside a git checkout (an unpacked
    sdist), everything but virtual environments and caches is copied.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=src,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0 and listed.stdout:
        for name in filter(None, listed.stdout.decode().split("\0")):
            source = src / name
            if source.is_file():  # a tracked file deleted in the working tree is not shipped
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / name)
    else:
        ignore = shutil.ignore_patterns(".venv*", ".git", "*.egg-info", "build", "dist", "__pycache__", ".*_cache")
        shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)
    return dest


def build_dists(out_dir: Path, src: Path = ROOT, python: str = sys.executable) -> Dists:
    """Build the sdist and, from it, the wheel into ``out_dir``; fail on any warning and on twine's check."""
    out_dir.mkdir(parents=True, exist_ok=True)
    installer = ["--installer", "uv"] if shutil.which("uv") or (Path(python).parent / "uv").exists() else []
    with tempfile.TemporaryDirectory(prefix="provider-tasks-src-") as tmp:
        tree = copy_source(Path(tmp), src)
        # PYTHONDONTWRITEBYTECODE only makes setuptools warn that it skips byte-compiling.
        env = clean_env(PATH=f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        result = subprocess.run(
            [python, "-m", "build", *installer, "--outdir", str(out_dir), str(tree)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise DistError(f"python -m build failed:\n{log[-5000:]}")
    warnings = [line for line in log.splitlines() if WARNING_LINE.search(line)]
    if warnings:
        raise DistError("the build printed warnings:\n" + "\n".join(warnings))
    wheels, sdists = sorted(out_dir.glob("*.whl")), sorted(out_dir.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise DistError(f"expected one wheel and one sdist in {out_dir}, found {wheels + sdists}")
    twine = subprocess.run(
        [python, "-m", "twine", "check", "--strict", str(wheels[0]), str(sdists[0])],
        env=clean_env(NO_COLOR="1"),
        capture_output=True,
        text=True,
        check=False,
    )
    if twine.returncode != 0:
        raise DistError(f"twine check --strict failed:\n{twine.stdout}{twine.stderr}")
    return Dists(wheels[0], sdists[0], log + twine.stdout)


def wheel_metadata(wheel: Path) -> tuple[dict[str, list[str]], str]:
    """The wheel's METADATA (every header's values) and its entry_points.txt."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode() if f"{info}/entry_points.txt" in names else ""
    headers: dict[str, list[str]] = {}
    for key, value in message.items():
        headers.setdefault(key, []).append(value)
    return headers, entry_points


def check_wheel(wheel: Path, version: str | None = None) -> None:
    """LICENSE and metadata present; only the Airflow provider entry point; no tests or DAGs inside."""
    headers, entry_points = wheel_metadata(wheel)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    problems = []
    if not any(name.endswith(".dist-info/licenses/LICENSE") for name in names):
        problems.append("no dist-info/licenses/LICENSE")
    if headers.get("License-Expression") != ["Apache-2.0"]:
        problems.append(f"License-Expression is {headers.get('License-Expression')}")
    if version and headers.get("Version") != [version]:
        problems.append(f"Version is {headers.get('Version')}, the package says {version}")
    groups = re.findall(r"^\[(.+)\]$", entry_points, re.MULTILINE)
    if groups != ["apache_airflow_provider"]:
        problems.append(f"entry point groups are {groups}, expected only apache_airflow_provider (no pytest11)")
    strays = [name for name in names if name.split("/")[0] in {"tests", "example_dags", "bench", "scripts"}]
    if strays:
        problems.append(f"files outside the package: {strays[:5]}")
    for needed in ("airflow_provider_tasks/py.typed", "airflow_provider_tasks/simulator/scenarios/demo.json"):
        if needed not in names:
            problems.append(f"{needed} missing")
    if problems:
        raise DistError(f"{wheel.name}: " + "; ".join(problems))


def unpack_sdist(sdist: Path, dest: Path) -> Path:
    """Extract the sdist into ``dest``; return its top directory."""
    with tarfile.open(sdist) as archive:
        archive.extractall(dest, filter="data")
    (top,) = [path for path in dest.iterdir() if path.is_dir()]
    return top


def check_sdist(sdist: Path, required: Sequence[str] = SDIST_REQUIRED) -> None:
    """The sdist carries everything its tests need, and every test file of the tree."""
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    missing = [name for name in required if name not in names]
    tree_tests = {str(path.relative_to(ROOT)) for path in (ROOT / "tests").rglob("*.py")}
    missing += sorted(tree_tests - names) if (ROOT / ".git").exists() else []
    cached = [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    if missing or cached:
        raise DistError(f"{sdist.name}: missing {missing}, stray {cached[:5]}")


def install_wheel(
    venv: Path,
    wheel: Path,
    airflow: str,
    extras: Sequence[str] = (),
    python: str = sys.executable,
    constraints: Path | None = None,
) -> Path:
    """Create ``venv`` (if needed) and install ``wheel`` with ``apache-airflow==airflow``; return its python."""
    uv = find_uv()
    bin_python = venv / "bin" / "python"
    if not bin_python.exists():
        subprocess.run([uv, "venv", "--quiet", "--python", python, str(venv)], env=clean_env(), check=True)
    spec = f"{DIST_NAME}[{','.join(extras)}] @ {wheel.resolve().as_uri()}" if extras else str(wheel)
    command = [uv, "pip", "install", "--quiet", "--python", str(bin_python), spec, f"apache-airflow=={airflow}"]
    if constraints:
        command += ["--constraint", str(constraints)]
    subprocess.run(command, env=clean_env(), check=True)
    return bin_python


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/dists.py OUT_DIR", file=sys.stderr)
        return 2
    built = build_dists(Path(argv[0]).resolve())
    check_wheel(built.wheel)
    check_sdist(built.sdist)
    print(built.wheel)
    print(built.sdist)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

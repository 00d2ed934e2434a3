"""The docs stay true to the code they show: every example block is its marker region of an example DAG
(``scripts/sync_docs.py`` rewrites them), every link reaches a file (and heading) that exists, every
other Python block parses, every page is reachable from ``docs/index.md``, and each service page names
every parameter and template field of its classes and every public method its hook defines.

In an unpacked sdist, which ships ``docs/`` but not every file the pages link to (``bench/``, the
``Makefile``...), links outside ``docs/`` are checked only where the target was shipped.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
IN_CHECKOUT = (ROOT / ".git").exists()
GITHUB = "https://github.com/airflow-provider-tasks/airflow-provider-tasks"


def _load_sync_docs():
    spec = importlib.util.spec_from_file_location("sync_docs", ROOT / "scripts" / "sync_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sync_docs", module)
    spec.loader.exec_module(module)
    return module


sync_docs = _load_sync_docs()
PAGES = sorted(DOCS.glob("*.md"))
#: ``[text](target)`` outside code: the target up to a space or the closing parenthesis.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^ *```.*?^ *```", flags=re.DOTALL | re.MULTILINE)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def _prose(text: str) -> str:
    """``text`` without fenced blocks and code spans (links and headings inside them are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page's headings (lower case, punctuation dropped, spaces to
    hyphens, ``-1``, ``-2``... for repeats)."""
    seen: dict[str, int] = {}
    anchors = set()
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^#{1,6} +(.*?) *#*$", line)
        if heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(page: Path) -> list[str]:
    return LINK.findall(_prose(page.read_text(encoding="utf-8")))


def test_the_docs_exist():
    names = {page.name for page in PAGES}
    assert names >= {
        "index.md",
        "posteketab.md",
        "openreplay.md",
        "mobizon.md",
        "performance.md",
        "failures.md",
        "testing.md",
        "versions.md",
    }


def test_every_example_block_is_its_marker_region():
    stale = sync_docs.problems()
    assert not stale, "run python scripts/sync_docs.py:\n" + "\n".join(stale)


def test_every_sensor_and_operator_section_includes_an_example_dag_region():
    """Issue 13.4: each sensor's and operator's example is code that runs (``make demo``), not a snippet."""
    bare = []
    for name in ("posteketab.md", "openreplay.md", "mobizon.md"):
        sections = re.split(r"^## ", (DOCS / name).read_text(encoding="utf-8"), flags=re.M)
        for section in sections:
            if section.startswith(("Sensor: ", "Operator: ")) and not sync_docs.COMMENT.search(section):
                bare.append(f"{name}: {section.splitlines()[0]}")
    assert not bare, f"sections with no <!-- example: ... --> block: {bare}"


def test_every_marker_of_the_example_dags_is_shown_in_the_docs():
    shown = {(block.path, block.marker) for page in PAGES for block in sync_docs.blocks(page)}
    markers = {
        (f"example_dags/{path.name}", marker)
        for path in sorted((ROOT / "example_dags").glob("*.py"))
        for marker in re.findall(r"^ *# \[START ([\w.-]+)\]$", path.read_text(encoding="utf-8"), flags=re.M)
    }
    assert markers, "the example DAGs carry no markers"
    assert markers <= shown, f"markers no page includes: {sorted(markers - shown)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_reach_files_and_headings_that_exist(page):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            shipped_elsewhere = not IN_CHECKOUT and not resolved.is_relative_to(DOCS)
            if not shipped_elsewhere:
                broken.append(f"{target}: no such file")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_every_page_is_linked_from_the_index():
    linked = {(DOCS / target.partition("#")[0]).resolve() for target in _links(DOCS / "index.md")}
    missing = [page.name for page in PAGES if page.name != "index.md" and page.resolve() not in linked]
    assert not missing, f"docs/index.md does not link {missing}"


def test_the_readme_links_the_docs():
    readme = ROOT / "README.md"
    # The README is also the package's PyPI page, where relative links break: it links GitHub.
    targets = {target.partition("#")[0].rstrip("/") for target in _links(readme)}
    assert targets & {"docs", "docs/index.md", f"{GITHUB}/tree/main/docs"}, "README.md has no link to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_the_other_python_blocks_parse(page):
    text = page.read_text(encoding="utf-8")
    for match in re.finditer(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE):
        line = text.count("\n", 0, match.start()) + 1
        try:
            ast.parse(match.group(1))
        except SyntaxError as error:
            pytest.fail(f"{page.name}:{line}: {error}")


# ---------------------------------------------------------------------- the checker itself


def _tree(tmp_path: Path, example: str, page: str) -> tuple[Path, Path]:
    (tmp_path / "example_dags").mkdir()
    (tmp_path / "example_dags" / "example_x.py").write_text(example, encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text(page, encoding="utf-8")
    return tmp_path, docs


EXAMPLE = "with dag:\n    # [START waiting]\n    wait = Sensor(\n        task_id='w',\n    )\n    # [END waiting]\n"
BLOCK = "<!-- example: example_dags/example_x.py waiting -->\n```python\n{body}```\n"


def test_the_checker_accepts_a_block_in_sync(tmp_path):
    root, docs = _tree(tmp_path, EXAMPLE, BLOCK.format(body="wait = Sensor(\n    task_id='w',\n)\n"))
    assert sync_docs.problems(docs, root) == []


def test_the_checker_reports_a_stale_block_and_the_sync_fixes_it(tmp_path):
    root, docs = _tree(tmp_path, EXAMPLE, "Intro.\n\n" + BLOCK.format(body="wait = Sensor(task_id='old')\n"))
    (problem,) = sync_docs.problems(docs, root)
    assert problem.startswith("docs/page.md:3 (example_dags/example_x.py waiting): differs")
    assert sync_docs.sync_page(docs / "page.md", root)
    assert sync_docs.problems(docs, root) == []
    assert "task_id='w'" in (docs / "page.md").read_text(encoding="utf-8")


def test_the_checker_reports_a_missing_marker_or_file(tmp_path):
    page = BLOCK.format(body="x\n") + "\n" + BLOCK.format(body="y\n").replace("example_x.py", "nowhere.py")
    root, docs = _tree(tmp_path, EXAMPLE.replace("[END waiting]", "[END other]"), page)
    problems = sync_docs.problems(docs, root)
    assert len(problems) == 2
    assert "'# [END waiting]'" in problems[0]
    assert "nowhere.py does not exist" in problems[1]


def test_the_checker_refuses_an_include_comment_without_a_block(tmp_path):
    root, docs = _tree(tmp_path, EXAMPLE, "<!-- example: example_dags/example_x.py waiting -->\n\ntext\n")
    (problem,) = sync_docs.problems(docs, root)
    assert "directly followed by a ```python block" in problem


def test_the_check_command_exits_non_zero_on_a_stale_block(tmp_path, monkeypatch, capsys):
    root, docs = _tree(tmp_path, EXAMPLE, BLOCK.format(body="stale\n"))
    monkeypatch.setattr(sync_docs, "ROOT", root)
    monkeypatch.setattr(sync_docs, "DOCS", docs)
    assert sync_docs.main(["--check"]) == 1
    assert "docs/page.md:1 (example_dags/example_x.py waiting): differs" in capsys.readouterr().out
    assert sync_docs.main([]) == 0
    assert sync_docs.main(["--check"]) == 0


# ---------------------------------------------------------------------- the reference is complete

SERVICE_CLASSES = {
    "posteketab.md": [
        "airflow_provider_tasks.hooks.posteketab.PostEKetabHook",
        "airflow_provider_tasks.sensors.posteketab.PostEKetabTaskSensor",
        "airflow_provider_tasks.operators.posteketab.PostEKetabTaskResultOperator",
        "airflow_provider_tasks.operators.posteketab.PostEKetabListTasksOperator",
        "airflow_provider_tasks.triggers.posteketab.PostEKetabTaskTrigger",
        "airflow_provider_tasks.triggers.posteketab.PostEKetabTaskFinishedTrigger",
    ],
    "openreplay.md": [
        "airflow_provider_tasks.hooks.openreplay.OpenReplayHook",
        "airflow_provider_tasks.sensors.openreplay.OpenReplayJobSensor",
        "airflow_provider_tasks.operators.openreplay.OpenReplayCancelJobOperator",
        "airflow_provider_tasks.operators.openreplay.OpenReplayDeleteUserDataOperator",
        "airflow_provider_tasks.operators.openreplay.OpenReplayListJobsOperator",
        "airflow_provider_tasks.triggers.openreplay.OpenReplayJobTrigger",
        "airflow_provider_tasks.triggers.openreplay.OpenReplayJobFinishedTrigger",
    ],
    "mobizon.md": [
        "airflow_provider_tasks.hooks.mobizon.MobizonHook",
        "airflow_provider_tasks.sensors.mobizon.MobizonTaskSensor",
        "airflow_provider_tasks.triggers.mobizon.MobizonTaskTrigger",
    ],
}


def _class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("page", "path"), [(page, path) for page, paths in SERVICE_CLASSES.items() for path in paths])
def test_the_service_page_names_every_parameter_and_public_method(page, path):
    import inspect

    text = (DOCS / page).read_text(encoding="utf-8")
    cls = _class(path)
    assert f"`{cls.__name__}" in text, cls.__name__
    names = [
        name
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and parameter.kind is not parameter.VAR_KEYWORD
    ]
    names += getattr(cls, "template_fields", ())
    if cls.__name__.endswith("Hook"):  # the public methods it defines itself
        names += [name for name in vars(cls) if not name.startswith("_") and inspect.isfunction(vars(cls)[name])]
    missing = sorted({name for name in names if f"`{name}" not in text and f" {name}(" not in text})
    assert not missing, f"{page} does not document {cls.__name__}: {missing}"

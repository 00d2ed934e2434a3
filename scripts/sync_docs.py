"""Keep the examples in ``docs/`` in sync with ``example_dags/``.

An example DAG marks a region with comments, the official providers' convention::

    # [START openreplay_sensor]
    wait_for_job = OpenReplayJobSensor(...)
    # [END openreplay_sensor]

and a docs page includes it with an HTML comment naming the file (from the repository root) and the
marker, directly followed by a fenced ``python`` block::

    <!-- example: example_dags/example_openreplay.py openreplay_sensor -->
    ```python
    ...
    ```

``python scripts/sync_docs.py`` rewrites every such block from its region (dedented);
``--check`` changes nothing and exits 1, listing the stale or broken blocks. ``tests/test_docs.py``
runs the same check.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: The include comment and the fenced block right after it (the block's body is group ``body``).
BLOCK = re.compile(
    r"^<!-- example: (?P<path>\S+) (?P<marker>[\w.-]+) -->\n```python\n(?P<body>.*?)^```$",
    flags=re.MULTILINE | re.DOTALL,
)
#: An include comment, whether or not a well-formed block follows it.
COMMENT = re.compile(r"^<!-- example: .*?-->$", flags=re.MULTILINE)


class ExampleError(Exception):
    """A docs block names a file or marker that does not exist, or is not followed by a python block."""


@dataclass(frozen=True)
class Block:
    """One example block of a docs page."""

    page: Path
    line: int
    path: str
    marker: str
    body: str

    def where(self, root: Path | None = None) -> str:
        return f"{shown(self.page, root)}:{self.line} ({self.path} {self.marker})"


def shown(page: Path, root: Path | None = None) -> str:
    """``page`` relative to ``root`` (default: the repository) when it is under it."""
    root = root or ROOT
    return str(page.relative_to(root)) if page.is_relative_to(root) else str(page)


def region(path: str, marker: str, root: Path | None = None) -> str:
    """The dedented lines between ``# [START marker]`` and ``# [END marker]`` of ``path``, ending in a newline."""
    source = (root or ROOT) / path
    if not source.is_file():
        raise ExampleError(f"{path} does not exist")
    lines = source.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"# [START {marker}]"]
    ends = [i for i, line in enumerate(lines) if line.strip() == f"# [END {marker}]"]
    if len(starts) != 1 or len(ends) != 1 or ends[0] <= starts[0]:
        raise ExampleError(
            f"{path} has {len(starts)} '# [START {marker}]' and {len(ends)} '# [END {marker}]' lines "
            "(one of each, START first, is needed)"
        )
    body = textwrap.dedent("\n".join(lines[starts[0] + 1 : ends[0]])).strip("\n")
    if not body.strip():
        raise ExampleError(f"{path}: the region {marker!r} is empty")
    return body + "\n"


def blocks(page: Path, root: Path | None = None) -> Iterator[Block]:
    """The example blocks of a docs page; an include comment without a python block right after it raises."""
    text = page.read_text(encoding="utf-8")
    found = {match.start(): match for match in BLOCK.finditer(text)}
    for comment in COMMENT.finditer(text):
        line = text.count("\n", 0, comment.start()) + 1
        match = found.get(comment.start())
        if match is None:
            raise ExampleError(
                f"{shown(page, root)}:{line}: {comment.group(0)!r} must be 'PATH MARKER' directly "
                "followed by a ```python block"
            )
        yield Block(page, line, match["path"], match["marker"], match["body"])


def pages(docs: Path | None = None) -> list[Path]:
    return sorted((docs or DOCS).glob("**/*.md"))


def problems(docs: Path | None = None, root: Path | None = None) -> list[str]:
    """Every stale or broken example block under ``docs``, one line each."""
    found: list[str] = []
    for page in pages(docs):
        try:
            for block in blocks(page, root):
                try:
                    if block.body != region(block.path, block.marker, root):
                        found.append(f"{block.where(root)}: differs from the example file")
                except ExampleError as error:
                    found.append(f"{block.where(root)}: {error}")
        except ExampleError as error:
            found.append(str(error))
    return found


def sync_page(page: Path, root: Path | None = None) -> bool:
    """Rewrite the page's blocks from their regions; True when the page changed."""
    text = page.read_text(encoding="utf-8")
    list(blocks(page, root))  # a malformed include comment fails before anything is written

    def fill(match: re.Match[str]) -> str:
        body = region(match["path"], match["marker"], root)
        return f"<!-- example: {match['path']} {match['marker']} -->\n```python\n{body}```"

    new = BLOCK.sub(fill, text)
    if new != text:
        page.write_text(new, encoding="utf-8")
    return new != text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 listing stale blocks")
    args = parser.parse_args(argv)
    if args.check:
        stale = problems()
        for line in stale:
            print(line)
        if stale:
            print(f"{len(stale)} stale example block(s): run python scripts/sync_docs.py", file=sys.stderr)
        return 1 if stale else 0
    try:
        changed = [page for page in pages() if sync_page(page)]
    except ExampleError as error:
        print(error, file=sys.stderr)
        return 1
    for page in changed:
        print(f"updated {shown(page)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The README and ``docs/`` point only at what exists: every file path they name is in the
repository, every ``bestow`` command group they name is the CLI's, and the README's layout lists
every package under ``src/bestow``."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from bestow.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# A path in backticks: a top-level folder of the repository, then at least one more part.
PATH = re.compile(r"`((?:docs|src|tests|examples|sdk|bench)/[\w./-]+)`")
# A Markdown file in backticks, from the repository's root or the document's folder.
MARKDOWN = re.compile(r"`([\w./-]+\.md)`")
COMMAND = re.compile(r"`(?:\.venv/bin/)?bestow ([a-z][a-z-]*)")


def test_every_path_the_docs_name_exists() -> None:
    missing = [
        f"{doc.relative_to(ROOT)}: {path}"
        for doc in DOCS
        for path in PATH.findall(doc.read_text())
        if "<" not in path and not (ROOT / path.rstrip("/")).exists()
    ]
    assert not missing, "\n".join(missing)


def test_every_markdown_file_the_docs_name_exists() -> None:
    missing = [
        f"{doc.relative_to(ROOT)}: {name}"
        for doc in DOCS
        for name in MARKDOWN.findall(doc.read_text())
        # Nothing outside the repository: a reader's checkout has only the repository.
        if ".." in name or not ((ROOT / name).exists() or (doc.parent / name).exists())
    ]
    assert not missing, "\n".join(missing)


def test_every_bestow_command_the_docs_name_exists() -> None:
    groups = set(get_command(app).commands)  # type: ignore[attr-defined]
    unknown = [
        f"{doc.relative_to(ROOT)}: bestow {name}"
        for doc in DOCS
        for name in COMMAND.findall(doc.read_text())
        if name not in groups
    ]
    assert not unknown, "\n".join(unknown)


def test_the_readme_layout_lists_every_package() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("```")[1]
    packages = sorted(
        p.name
        for p in (ROOT / "src" / "bestow").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    )
    missing = [name for name in packages if f"{name}/" not in layout]
    assert not missing, f"the README's layout does not list {missing}"

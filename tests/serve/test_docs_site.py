"""The documentation: the MkDocs site builds with `mkdocs build --strict` (every page in the nav, every link
and anchor between pages resolves), no link leaves the repository, the README stays a front door whose test
command is the one CI runs, and no page speaks of how the project is organised instead of the product."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.doc_blocks import DOCS, README, ROOT, blocks

PAGES = [README, ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]


def prose(path: Path) -> str:
    """A page without its code: fenced blocks and inline code spans may show URLs and commands."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    argv = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
            "--site-dir", str(site)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    built = {p.relative_to(site).as_posix() for p in site.rglob("index.html")}
    for page in DOCS.glob("*.md"):
        assert ("index.html" if page.stem == "index" else f"{page.stem}/index.html") in built, page.name
    # the changelog page is the repository's CHANGELOG.md, included whole (snippets resolve from the root)
    assert "Unreleased" in (site / "changelog" / "index.html").read_text(encoding="utf-8")


def test_no_link_leaves_the_repository() -> None:
    for page in PAGES:
        text = prose(page)
        assert not re.findall(r"[a-z][\w+.-]*://\S+", text), page.name  # links, autolinks and bare URLs alike
        assert "/work/" not in page.read_text(encoding="utf-8"), page.name  # no path of a developer's machine


def test_every_relative_link_of_the_readme_resolves() -> None:
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", prose(README))
    assert len(targets) >= 10
    for target in targets:
        assert (ROOT / target).exists(), target


def test_no_page_speaks_of_the_project_s_organisation() -> None:
    internal = re.compile(r"\bissue \d+|\b(?:this|previous|last|next|first|second) round\b|\bround \d+"
                          r"|\bhelpers? (?:that|who)\b|\bthe lead\b", re.I)
    for page in [*PAGES, ROOT / "contracts" / "README.md"]:
        found = internal.findall(page.read_text(encoding="utf-8"))
        assert not found, (page.name, found)


def test_the_readme_is_a_front_door_with_ci_s_test_command() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert "git clone <repo-url> mockmj && cd mockmj" in text
    commands = [line for block in blocks(text) for line in block.splitlines()]
    assert "pip install . && mockmj serve" in commands  # serves on the embedded defaults
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    (pytest_line,) = re.findall(r"^(pytest [^|#\n]*?)\s*(?:\|\|.*)?$", ci, flags=re.M)  # without CI's `|| status=$?`
    assert re.search(r"pip install (--\w+ )*'\.\[test\]'", ci)
    assert f"pip install '.[test]' && {pytest_line}" in commands

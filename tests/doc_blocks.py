"""The code blocks of the documentation (README.md and the pages under docs/), for the tests that run them:
documentation that cannot rot. A page marks a run of blocks with `<!-- NAME:start -->` … `<!-- NAME:end -->`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def page(name: str) -> str:
    """The text of docs/NAME (or of the README for "README.md")."""
    return (README if name == "README.md" else DOCS / name).read_text(encoding="utf-8")


def between(text: str, marker: str) -> str:
    """The part of a page between its `<!-- marker:start -->` and `<!-- marker:end -->` comments."""
    assert f"<!-- {marker}:start -->" in text, f"the marker {marker} is gone"
    return text.split(f"<!-- {marker}:start -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]


def blocks(text: str, lang: str = "bash") -> list[str]:
    """Every fenced block of one language, in order."""
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def marked(name: str, marker: str, lang: str = "bash") -> list[str]:
    """The blocks of one language between a page's markers."""
    return blocks(between(page(name), marker), lang)


def promised(script: str) -> list[tuple[str, str]]:
    """Every `echo "label: …"  # label: value` of a script: what the documentation says it prints."""
    return re.findall(r'echo "([\w -]+): .*#\s*\1: (.+)$', script, flags=re.M)


"""The contract report stands on its own: every clause quotes the sentence it checks, its section and the
public document, in the Markdown and the JSON report, and cites none of this repository's own notes."""

from __future__ import annotations

import json
import re

from contracts.clauses import CLAUSES, Clause, Recorder
from contracts.report import build, markdown
from contracts.sources import CITATIONS, DOCS


def test_every_clause_quotes_the_documentation() -> None:
    missing = [cid for cid in CLAUSES if not CITATIONS.get(cid)]
    assert not missing, f"clauses without a quoted sentence in contracts/sources.py: {missing}"
    unknown = [cid for cid in CITATIONS if cid not in CLAUSES]
    assert not unknown, f"citations of clauses that do not exist: {unknown}"
    for cid, cites in CITATIONS.items():
        for cite in cites:
            assert cite.doc in DOCS, (cid, cite)
            assert cite.section.strip() and len(cite.text.split()) >= 3, (cid, cite)


def test_the_88api_clauses_link_the_public_page() -> None:
    url = DOCS["88api"].url
    assert url and url.startswith("https://docs.88api.ai/")
    assert sum(1 for cites in CITATIONS.values() if any(c.doc == "88api" for c in cites)) >= len(CLAUSES) * 3 // 4


def test_reports_quote_sentence_section_and_url() -> None:
    rec = Recorder()
    rec.check("AUTH-1", True)
    report = build(rec, {"target": {}, "budget": {}})
    auth = next(c for c in report["clauses"] if c["id"] == "AUTH-1")
    assert {"document", "url", "section", "text"} <= set(auth["citations"][0])
    assert auth["citations"][0]["text"] == "401 Unauthorized: Invalid or missing API key"
    assert auth["citations"][0]["url"] == DOCS["88api"].url
    text = json.dumps(report, ensure_ascii=False) + markdown(report)
    assert "> 401 Unauthorized: Invalid or missing API key" in markdown(report)
    assert "Error Response › HTTP Status Codes" in markdown(report)
    # nothing points at files that exist only beside this repository
    assert not re.search(r"88API l\.\d|upstream §\d", text), re.findall(r".{40}(?:88API l\.\d|upstream §\d).{20}", text)


def test_a_clause_without_citations_quotes_its_own_words() -> None:
    import contracts.report as report_mod

    clause = Clause("NEW-1", "a clause added elsewhere", "somewhere", "the words it checks")
    cites = report_mod.citations(clause)
    assert cites == [{"document": "somewhere", "url": None, "section": "", "text": "the words it checks"}]

"""The clause-by-clause report: a table on the terminal, Markdown and JSON files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .clauses import CLAUSES, NOT_SELECTED, Clause, Recorder
from .sources import DOCS, citations_of

ICON = {"passed": "PASS", "failed": "FAIL", "not run": "----"}


def build(rec: Recorder, meta: dict[str, Any]) -> dict[str, Any]:
    clauses = []
    for cid, clause in CLAUSES.items():
        res = rec.results[cid]
        status = rec.status(cid)
        clauses.append({
            "id": cid,
            "title": clause.title,
            "citations": citations(clause),
            "billable": clause.billable,
            "status": status,
            "observations": res.observations,
            "failures": res.failures,
            "evidence": res.evidence if status == "failed" else [],
            "readings": dict(res.readings),
            "reason": rec.reason(cid),
            "notes": res.not_run if status != "not run" else [],
            "tests": sorted(res.tests),
        })
    for c in clauses:
        c["source"] = _where(c)  # the sections quoted; the repository's own notes never leave it
    summary = {s: sum(1 for c in clauses if c["status"] == s) for s in ("passed", "failed", "not run")}
    return {"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **meta, "summary": summary, "clauses": clauses}


def citations(clause: Clause) -> list[dict[str, str | None]]:
    """The clause's quoted sentences; a clause sources.py does not know quotes its own short source."""
    return citations_of(clause.id) or [{"document": clause.source, "url": None, "section": "", "text": clause.quote}]


def _where(c: dict[str, Any]) -> str:
    """The table's short "documented at": the sections, without the sentences (quoted below the table)."""
    seen: list[str] = []
    for cite in c.get("citations") or []:
        doc = next((k for k, d in DOCS.items() if d.title == cite["document"]), None)
        label = f"{'88API' if doc == '88api' else doc or cite['document']}"
        where = f"{label} › {cite['section']}" if cite["section"] else label
        if where not in seen:
            seen.append(where)
    return "; ".join(seen) or c.get("source", "")


def _sources_section(report: dict[str, Any]) -> list[str]:
    lines = ["## What each clause checks", "",
             "Each clause quotes the documentation it checks, with the section and the public document.", ""]
    for c in report["clauses"]:
        lines.append(f"- **{c['id']}** {c['title']}")
        for cite in c.get("citations") or []:
            doc = f"[{cite['document']}]({cite['url']})" if cite.get("url") else cite["document"]
            section = f"{cite['section']}, " if cite.get("section") else ""
            lines.append(f"  > {' '.join(str(cite['text']).split())}")
            lines.append(f"  — {section}{doc}")
    lines += ["", "Documents:", ""]
    lines += [f"- {d.title}" + (f": <{d.url}>" if d.url else "") for d in DOCS.values()]
    return [*lines, ""]


def _checks(n: int) -> str:
    return f"{n} check" if n == 1 else f"{n} checks"


def _cell(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.replace("|", "\\|")


def markdown(report: dict[str, Any]) -> str:
    t = report.get("target", {})
    b = report.get("budget", {})
    s = report["summary"]
    lines = [
        "# Contract report",
        "",
        f"- target: {t.get('base_url')} (dialect **{t.get('dialect')}**, {t.get('dialect_source')}"
        f"{', a mockmj' if t.get('is_mockmj') else ''})",
        f"- billable requests: {b.get('used')} of budget {b.get('limit')}; requests sent: "
        f"{report.get('requests', {}).get('total')}",
        f"- result: **{s['passed']} passed, {s['failed']} failed, {s['not run']} not run**",
        "",
        "| clause | status | what | documented at | evidence / reason / reading seen |",
        "|---|---|---|---|---|",
    ]
    for c in report["clauses"]:
        if c["status"] == "failed":
            detail = "; ".join(c["evidence"]) + (f" ({c['failures']} failing checks)" if c["failures"] > 1 else "")
        elif c["status"] == "not run":
            detail = c["reason"]
        else:
            detail = _checks(c["observations"])
            if c["readings"]:
                detail += "; seen: " + ", ".join(c["readings"])
            if c["notes"]:
                detail += "; partly not run: " + "; ".join(c["notes"])
        lines.append(f"| {c['id']} | {c['status']} | {_cell(c['title'], 120)} | {_cell(_where(c), 160)} | "
                     f"{_cell(detail)} |")
    lines += ["", *_sources_section(report)]
    return "\n".join(lines)


def terminal_lines(report: dict[str, Any], width: int = 120) -> list[str]:
    s = report["summary"]
    b = report.get("budget", {})
    t = report.get("target", {})
    out = [f"target {t.get('base_url')}  dialect {t.get('dialect')}  billable {b.get('used')}/{b.get('limit')}"]
    unselected = [c["id"] for c in report["clauses"] if c["reason"] == NOT_SELECTED]
    for c in report["clauses"]:
        if c["reason"] == NOT_SELECTED:
            continue
        if c["status"] == "failed":
            detail = c["evidence"][0] if c["evidence"] else ""
        elif c["status"] == "not run":
            detail = c["reason"]
        else:
            detail = _checks(c["observations"]) + (
                f"; seen: {', '.join(c['readings'])}" if c["readings"] else "")
        line = f"{ICON[c['status']]} {c['id']:<9} {c['title']}"
        out.append(line[:width])
        if detail and c["status"] != "passed":
            out.append(("       " + " ".join(detail.split()))[:width])
    if unselected:
        out.append(f"---- {len(unselected)} clauses not selected (--mj-clauses)")
    out.append(f"{s['passed']} passed, {s['failed']} failed, {s['not run']} not run")
    return out


def write(report: dict[str, Any], stem: str) -> tuple[Path, Path]:
    base = Path(stem)
    if base.suffix in (".md", ".json"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    md, js = base.with_name(base.name + ".md"), base.with_name(base.name + ".json")
    md.write_text(markdown(report), encoding="utf-8")
    js.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return md, js

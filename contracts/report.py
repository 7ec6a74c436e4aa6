"""The clause-by-clause report: a table on the terminal, Markdown and JSON files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .clauses import CLAUSES, Recorder

ICON = {"passed": "PASS", "failed": "FAIL", "not run": "----"}


def build(rec: Recorder, meta: dict[str, Any]) -> dict[str, Any]:
    clauses = []
    for cid, clause in CLAUSES.items():
        res = rec.results[cid]
        status = rec.status(cid)
        clauses.append({
            "id": cid,
            "title": clause.title,
            "source": clause.source,
            "quote": clause.quote,
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
    summary = {s: sum(1 for c in clauses if c["status"] == s) for s in ("passed", "failed", "not run")}
    return {"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **meta, "summary": summary, "clauses": clauses}


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
        lines.append(f"| {c['id']} | {c['status']} | {_cell(c['title'], 120)} | {_cell(c['source'], 80)} | "
                     f"{_cell(detail)} |")
    lines += ["", "Sources: `88API l.N` = line N of the 88API Midjourney document; `upstream §N` = the "
              "midjourney-proxy behaviour reference; `relay` = what relays such as new-api require.", ""]
    return "\n".join(lines)


def terminal_lines(report: dict[str, Any], width: int = 120) -> list[str]:
    s = report["summary"]
    b = report.get("budget", {})
    t = report.get("target", {})
    out = [f"target {t.get('base_url')}  dialect {t.get('dialect')}  billable {b.get('used')}/{b.get('limit')}"]
    for c in report["clauses"]:
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

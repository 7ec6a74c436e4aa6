"""The clause-by-clause report: a table on the terminal, Markdown, JSON and JUnit XML files, with coverage."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .clauses import CLAUSES, FAILED, NOT_APPLICABLE, NOT_SELECTED, NOT_VERIFIED, PASSED, STATUSES, Clause, Recorder
from .coverage import DIMENSIONS
from .sources import DOCS, citations_of

ICON = {PASSED: "PASS", FAILED: "FAIL", NOT_VERIFIED: "????", NOT_APPLICABLE: "n/a "}


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
            "notes": res.not_applicable if status == PASSED else [],
            "selected": cid in rec.selected,
            "tests": sorted(res.tests),
        })
    for c in clauses:
        c["source"] = _where(c)  # the sections quoted; the repository's own notes never leave it
    shown = [c for c in clauses if c["reason"] != NOT_SELECTED]
    summary = {s: sum(1 for c in shown if c["status"] == s) for s in STATUSES}
    summary["not selected"] = len(clauses) - len(shown)
    return {"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **meta, "summary": summary, "clauses": clauses}


def verdict(report: dict[str, Any], strict: bool, min_coverage: float | None) -> dict[str, Any]:
    """Did the run pass? A failed clause always fails it; a selected clause left not verified fails a strict
    run; coverage below --mj-min-coverage fails it. Each reason is named."""
    reasons = []
    failed = [c["id"] for c in report["clauses"] if c["status"] == FAILED]
    if failed:
        reasons.append(f"failed: {', '.join(failed)}")
    unverified = [c["id"] for c in report["clauses"] if c["status"] == NOT_VERIFIED and c.get("selected", True)
                  and c["reason"] != NOT_SELECTED]
    if strict and unverified:
        reasons.append(f"not verified (strict): {', '.join(unverified)}")
    percent = (report.get("coverage") or {}).get("percent")
    if min_coverage is not None and percent is not None and percent < min_coverage:
        reasons.append(f"coverage {percent}% is below --mj-min-coverage {min_coverage:g}%")
    return {"ok": not reasons, "strict": strict, "min_coverage": min_coverage, "reasons": reasons,
            "unverified": unverified}


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


def _summary_text(s: dict[str, int]) -> str:
    return ", ".join(f"{s[k]} {k}" for k in STATUSES)


def _detail(c: dict[str, Any]) -> str:
    if c["status"] == FAILED:
        return "; ".join(c["evidence"]) + (f" ({c['failures']} failing checks)" if c["failures"] > 1 else "")
    if c["status"] in (NOT_VERIFIED, NOT_APPLICABLE):
        seen = f" ({_checks(c['observations'])} held)" if c["observations"] else ""
        return c["reason"] + seen
    detail = _checks(c["observations"])
    if c["readings"]:
        detail += "; seen: " + ", ".join(c["readings"])
    if c["notes"]:
        detail += "; partly not applicable: " + "; ".join(c["notes"])
    return detail


def _coverage_lines(cov: dict[str, Any]) -> list[str]:
    if not cov:
        return []
    lines = ["## Coverage of the spec", "", f"Overall: **{cov['percent']}%** of what the spec has was exercised.", "",
             "| dimension | exercised | missed | seen beyond the spec |", "|---|---|---|---|"]
    for dim in DIMENSIONS:
        d = cov[dim]
        lines.append(f"| {dim} | {d['ratio']} | {_cell(', '.join(map(str, d['missed'])) or '–', 300)} | "
                     f"{_cell(', '.join(map(str, d['beyond_spec'])) or '–', 200)} |")
    return [*lines, ""]


def markdown(report: dict[str, Any]) -> str:
    t = report.get("target", {})
    b = report.get("budget", {})
    s = report["summary"]
    v = report.get("verdict") or {}
    lines = [
        "# Contract report",
        "",
        f"- target: {t.get('base_url')} (dialect **{t.get('dialect')}**, {t.get('dialect_source')}"
        f"{', a mockmj' if t.get('is_mockmj') else ''})",
        f"- billable requests: {b.get('used')} of budget {b.get('limit')}; requests sent: "
        f"{report.get('requests', {}).get('total')}",
        f"- result: **{_summary_text(s)}**" + (f" ({s['not selected']} not selected)" if s.get("not selected") else ""),
    ]
    if v:
        lines.append(f"- verdict: **{'pass' if v.get('ok') else 'FAIL'}**"
                     + (f" ({'; '.join(v['reasons'])})" if v.get("reasons") else "")
                     + (" — strict: a clause left not verified fails the run" if v.get("strict") else ""))
    if b.get("tests_skipped_for_budget"):
        lines.append(f"- unchecked for lack of budget: {len(b['tests_skipped_for_budget'])} test(s); a budget of "
                     f"{b.get('would_check_all')} would run them all")
    lines += ["", "| clause | status | what | documented at | evidence / reason / reading seen |",
              "|---|---|---|---|---|"]
    for c in report["clauses"]:
        if c["reason"] == NOT_SELECTED:
            continue
        lines.append(f"| {c['id']} | {c['status']} | {_cell(c['title'], 120)} | {_cell(_where(c), 160)} | "
                     f"{_cell(_detail(c))} |")
    lines += ["", *_coverage_lines(report.get("coverage") or {}), *_sources_section(report)]
    return "\n".join(lines)


def terminal_lines(report: dict[str, Any], width: int = 120) -> list[str]:
    s = report["summary"]
    b = report.get("budget", {})
    t = report.get("target", {})
    out = [f"target {t.get('base_url')}  dialect {t.get('dialect')}  billable {b.get('used')}/{b.get('limit')}"]
    for c in report["clauses"]:
        if c["reason"] == NOT_SELECTED:
            continue
        line = f"{ICON[c['status']]} {c['id']:<9} {c['title']}"
        out.append(line[:width])
        if c["status"] != PASSED:
            detail = c["evidence"][0] if c["status"] == FAILED and c["evidence"] else _detail(c)
            out.append(("       " + " ".join(detail.split()))[:width])
    if s.get("not selected"):
        out.append(f"---- {s['not selected']} clauses not selected (--mj-clauses)")
    cov = report.get("coverage") or {}
    if cov:
        out.append("coverage " + ", ".join(f"{dim} {cov[dim]['ratio']}" for dim in DIMENSIONS)
                   + f": {cov['percent']}%")
    if b.get("tests_skipped_for_budget"):
        out.append(f"not verified for lack of budget: {len(b['tests_skipped_for_budget'])} test(s); "
                   f"--budget {b.get('would_check_all')} would run them all")
    out.append(_summary_text(s))
    v = report.get("verdict") or {}
    if v.get("reasons"):
        out.append("run fails: " + "; ".join(v["reasons"]))
    return out


def junit_xml(report: dict[str, Any]) -> str:
    """One testcase per selected clause (what CI systems read): failed → <failure>, not verified → <failure> in
    a strict run and <skipped> otherwise, not applicable → <skipped>; the evidence or reason as the message."""
    from xml.etree import ElementTree as ET

    strict = bool((report.get("verdict") or {}).get("strict"))
    shown = [c for c in report["clauses"] if c["reason"] != NOT_SELECTED]
    failures = sum(1 for c in shown if c["status"] == FAILED or (strict and c["status"] == NOT_VERIFIED))
    skipped = sum(1 for c in shown if c["status"] == NOT_APPLICABLE or (not strict and c["status"] == NOT_VERIFIED))
    suite = ET.Element("testsuite", name="mockmj contract", tests=str(len(shown)), failures=str(failures),
                       errors="0", skipped=str(skipped), timestamp=str(report.get("generated", "")))
    props = ET.SubElement(suite, "properties")
    for name, value in (("target", (report.get("target") or {}).get("base_url")),
                        ("dialect", (report.get("target") or {}).get("dialect")),
                        ("coverage_percent", (report.get("coverage") or {}).get("percent")),
                        ("billable_used", (report.get("budget") or {}).get("used"))):
        ET.SubElement(props, "property", name=name, value=str(value))
    for c in shown:
        case = ET.SubElement(suite, "testcase", classname=f"contract.{c['id'].split('-')[0]}", name=c["id"])
        text = " ".join(_detail(c).split())
        if c["status"] == FAILED:
            ET.SubElement(case, "failure", message=text[:500], type="clause failed").text = text
        elif c["status"] == NOT_VERIFIED:
            tag = "failure" if strict else "skipped"
            ET.SubElement(case, tag, message=f"not verified: {text}"[:500], type="not verified").text = text
        elif c["status"] == NOT_APPLICABLE:
            ET.SubElement(case, "skipped", message=f"not applicable: {text}"[:500])
        ET.SubElement(case, "system-out").text = f"{c['title']} — {_where(c)}"
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def write(report: dict[str, Any], stem: str) -> tuple[Path, Path, Path]:
    base = Path(stem)
    if base.suffix in (".md", ".json", ".xml"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    md, js, xml = (base.with_name(base.name + ext) for ext in (".md", ".json", ".xml"))
    report["files"] = [str(md), str(js), str(xml)]
    md.write_text(markdown(report), encoding="utf-8")
    js.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    xml.write_text(junit_xml(report), encoding="utf-8")
    return md, js, xml

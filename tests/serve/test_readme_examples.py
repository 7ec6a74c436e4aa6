"""The documentation in order: the blocks of Getting started, Every flow, the video examples, the rules and
findings, pasted one after another into one fresh shell, as a newcomer would, against the `mockmj serve` that
the first block starts (its port moved to a free one: 8080 may be taken)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from contracts.clauses import CLAUSES
from tests.doc_blocks import marked, page, promised
from tests.helpers import free_port

# (page, marker) in the order a reader meets them; Getting started's blocks include a rule, its removal and a
# contract run, which must pass although a rule was added just before it
TOUR = [("getting-started.md", "tour"), ("flows.md", "flow-examples"), ("media.md", "video-examples"),
        ("control-plane.md", "rules-examples")]
FINDINGS = 'curl -s "$MJ/_mockmj/findings?key=demo&final=true"'


def tour_script(port: int) -> str:
    parts = [block for page, marker in TOUR for block in marked(page, marker)]
    assert len(parts) >= 16, "a page of the tour lost its examples"
    script = "\n".join(parts)
    # findings.md's example reads what the tour's client did; it is a single command in that page's text
    assert FINDINGS in page("findings.md")
    script += f"\n{FINDINGS}; echo\n"
    script = script.replace("8080", str(port))
    # whatever happens, no server outlives the script
    return "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script


def test_the_docs_in_order_in_one_fresh_shell(tmp_path: Path) -> None:
    port = free_port()
    script = tour_script(port)
    # a fresh bash: nothing on PATH but the virtual environment (as after the install step) and the system's tools
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
           "HOME": str(tmp_path)}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, f"stdout:\n{done.stdout[-6000:]}\nstderr:\n{done.stderr[-6000:]}"
    lines = done.stdout.splitlines()

    task_id = re.fullmatch(r"task: (\d{16})", lines[0])
    assert task_id, lines[:3]
    task = json.loads(lines[1])
    assert (task["id"], task["status"], task["progress"]) == (task_id.group(1), "SUCCESS", "100%")
    assert task["imageUrl"].startswith(f"http://127.0.0.1:{port}/attachments/")
    assert any(b["label"] == "U1" for b in task["buttons"])

    # every value a block announces in a "# label: value" comment is what the mock printed
    expected = promised(script)
    assert len(expected) >= 19
    printed = dict(line.split(": ", 1) for line in lines if re.match(r"^[\w -]+: ", line))
    for label, value in expected:
        value = value.strip()
        if "<id>" in value:
            assert re.fullmatch(re.escape(value).replace("<id>", r"\d{16}"), printed[label]), label
        else:
            assert printed[label] == value, label

    assert f"cleared 1 rule(s) on http://127.0.0.1:{port}" in lines  # the rule is gone before the contract run
    refused = [json.loads(line) for line in lines if line.startswith('{"code":25,')]
    assert refused == [{"code": 25, "description": "Insufficient balance: forced by a mockmj rule", "result": None,
                        "properties": {}}]

    # the contract run after the rule: every clause passed, or does not apply to the mock's auth mode
    summary = next(line for line in lines
                   if re.fullmatch(r"\d+ passed, \d+ failed, \d+ not verified, \d+ not applicable", line))
    assert re.fullmatch(r"\d+ passed, 0 failed, 0 not verified, [01] not applicable", summary), summary
    # This run is also the suite's whole run against `mockmj serve` in any-key mode with a key given
    # (tests/contract/test_contract_command.py checks only the auth clauses of that combination): every clause,
    # SCHEMA-* included, passed, but AUTH-2 (no key is wrong), which says why from what the mock says of itself.
    report = json.loads((tmp_path / "contract-report.json").read_text(encoding="utf-8"))
    statuses = {c["id"]: c for c in report["clauses"] if c["selected"]}
    assert set(statuses) == set(CLAUSES)
    assert {cid for cid, c in statuses.items() if c["status"] != "passed"} == {"AUTH-2"}, statuses["AUTH-2"]
    assert statuses["AUTH-2"]["status"] == "not applicable"
    assert "/_mockmj/health auth" in statuses["AUTH-2"]["reason"], statuses["AUTH-2"]
    assert "  AUTH " in done.stdout + done.stderr  # the command's progress line of a clause group

    assert re.search(r"^MJ::JOB::upsample::1::\S+$", done.stdout, flags=re.M)
    assert "1️⃣" in done.stdout and "--ar 4:3" in done.stdout
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "uploaded.png").stat().st_size > 0
    assert (tmp_path / "clip.mp4").read_bytes()[4:8] == b"ftyp"
    findings = json.loads(lines[-1])
    assert "items" in findings and "thresholds" in findings

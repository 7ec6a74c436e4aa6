"""What the dashboard reads over HTTP: every key's tasks (filtered, paged, not counted as polls), one task
with its children tree, the shipped UI files, and browsers led from / to the dashboard while API clients
keep the dialect's JSON 404."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mockmj.web import dashboard
from tests.helpers import Client, Mock, session_of, submit

UI_DIR = Path(__file__).resolve().parents[2] / "mockmj" / "ui"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def tasks(c: Client, **query: str) -> dict:
    r = c.http.get(c.base + "/_mockmj/tasks", params=query, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_tasks_of_every_key_newest_first_with_filters_and_pages(manual: Client) -> None:
    other = Client(manual.server, key="other-key")
    first = submit(manual, "/mj/submit/imagine", {"prompt": "a red fox"})["result"]
    manual.advance(60)
    second = submit(other, "/mj/submit/imagine", {"prompt": "a blue whale"})["result"]
    failing = manual.post("/mj/submit/imagine", {"prompt": "a heron"}, headers={"X-MockMJ-Outcome": "fail"}).json()
    page = tasks(manual)
    assert [row["task"]["id"] for row in page["items"]] == [failing["result"], second, first]
    assert page["total"] == 3 and page["keys"] == ["ot…ey", "te…ey"]  # keys masked, as in the journal
    assert (page["scanned"], page["complete"], page["stored"]) == (3, True, 3)
    assert page["items"][1]["key"] == "ot…ey" and page["items"][2]["task"]["status"] == "SUCCESS"
    assert page["items"][2]["task"] == manual.fetch(first)  # exactly the fetch JSON
    assert [r["task"]["id"] for r in tasks(manual, key="other-key")["items"]] == [second]
    assert [r["task"]["id"] for r in tasks(manual, key="ot…ey")["items"]] == [second]  # the masked form too
    assert [r["task"]["id"] for r in tasks(manual, status="SUCCESS")["items"]] == [first]
    assert [r["task"]["id"] for r in tasks(manual, q="WHALE")["items"]] == [second]
    assert tasks(manual, action="UPSCALE")["total"] == 0
    assert tasks(manual)["counts"] == {"SUCCESS": 1, "NOT_START": 2}
    paged = tasks(manual, limit="1", offset="1")
    assert (paged["total"], [r["task"]["id"] for r in paged["items"]]) == (3, [second])
    for bad in ({"status": "DONE"}, {"limit": "-1"}, {"offset": "x"}):
        r = manual.http.get(manual.base + "/_mockmj/tasks", params=bad, timeout=10)
        assert r.status_code == 400 and r.json()["error"], (bad, r.text)


def test_a_read_looks_at_the_latest_tasks_only(manual: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """One read looks at the latest WINDOW submissions, of the key asked for or of every key, and says so: the
    dashboard reads once a second, and must cost the same however many tasks are stored."""
    monkeypatch.setattr(dashboard, "WINDOW", 3)
    other = Client(manual.server, key="other-key")
    old = [submit(other, "/mj/submit/imagine", {"prompt": f"an old owl {i}"})["result"] for i in range(2)]
    new = [submit(manual, "/mj/submit/imagine", {"prompt": f"a new newt {i}"})["result"] for i in range(3)]
    page = tasks(manual)
    assert [r["task"]["id"] for r in page["items"]] == new[::-1]
    assert (page["scanned"], page["complete"], page["stored"], page["total"]) == (3, False, 5, 3)
    assert page["keys"] == ["te…ey"] and page["counts"] == {"NOT_START": 3}
    assert tasks(manual, q="owl")["total"] == 0  # the search, too, is among the latest
    own = tasks(manual, key="other-key")  # a full key: its own latest tasks, however old
    assert [r["task"]["id"] for r in own["items"]] == old[::-1]
    assert (own["scanned"], own["complete"], own["keys"]) == (2, True, ["ot…ey", "te…ey"])
    exactly = tasks(manual, key="test-key")  # as many tasks as a read looks at: all of them were
    assert (exactly["scanned"], exactly["complete"], exactly["total"]) == (3, True, 3)
    submit(manual, "/mj/submit/imagine", {"prompt": "one newt too many"})
    beyond = tasks(manual, key="test-key")
    assert (beyond["scanned"], beyond["complete"]) == (3, False)
    assert tasks(manual, key="ot…ey")["total"] == 0  # a masked key filters the latest tasks of every key


def test_a_tasks_children_are_found_among_the_latest_of_its_key(manual: Client,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "WINDOW", 2)
    grid = manual.finish(submit(manual, "/mj/submit/imagine", {"prompt": "a harbour"})["result"])
    upscales = [submit(manual, "/mj/submit/action", {"taskId": grid["id"], "customId": button["customId"]})["result"]
                for button in grid["buttons"] if button["label"] in ("U1", "U2", "U3")]
    detail = manual.control("GET", f"/tasks/{grid['id']}")
    assert [child["id"] for child in detail["children"]] == upscales[1:]


def test_reading_tasks_is_not_a_poll(make_server) -> None:  # type: ignore[no-untyped-def]
    c = Client(make_server(timing="per-poll", seed=2))
    task_id = submit(c, "/mj/submit/imagine", {"prompt": "Cat"})["result"]
    for _ in range(5):
        assert tasks(c)["items"][0]["task"]["status"] == "NOT_START"
        assert c.control("GET", f"/tasks/{task_id}")["task"]["status"] == "NOT_START"
    timeline = c.control("GET", f"/tasks/{task_id}/timeline")["events"]
    assert [e["kind"] for e in timeline] == ["transition"]
    assert c.fetch(task_id)["status"] == "SUBMITTED"  # the first real poll still moves it one step


def test_one_task_with_its_children_as_a_tree(manual: Client) -> None:
    grid = manual.finish(submit(manual, "/mj/submit/imagine", {"prompt": "a castle"})["result"])

    def press(task: dict, label: str) -> dict:
        custom_id = next(b["customId"] for b in task["buttons"] if b["label"] == label)
        answer = submit(manual, "/mj/submit/action", {"taskId": task["id"], "customId": custom_id})
        return manual.finish(answer["result"])

    upscale = press(grid, "U1")
    variation = press(grid, "V2")
    variation_upscale = press(variation, "U3")
    detail = manual.control("GET", f"/tasks/{grid['id']}")
    assert detail["task"]["id"] == grid["id"] and detail["key"] == "te…ey" and detail["parentId"] is None
    tree = [(n["id"], n["action"], [(c["id"], c["action"]) for c in n["children"]]) for n in detail["children"]]
    assert tree == [(upscale["id"], "UPSCALE", []),
                    (variation["id"], "VARIATION", [(variation_upscale["id"], "UPSCALE")])]
    assert manual.control("GET", f"/tasks/{variation_upscale['id']}")["parentId"] == variation["id"]
    r = manual.http.get(manual.base + "/_mockmj/tasks/1234", timeout=10)
    assert r.status_code == 404 and "1234" in r.json()["error"]


def test_ui_files_are_shipped_and_fetch_nothing_from_the_network(server: Mock) -> None:
    http = session_of(server)
    page = http.get(server.base_url + "/_mockmj/ui", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "/_mockmj/ui/app.js" in page.text and "/_mockmj/ui/style.css" in page.text
    for name, mime in (("app.js", "text/javascript"), ("style.css", "text/css")):
        r = http.get(f"{server.base_url}/_mockmj/ui/{name}", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(mime)
        assert r.content == (UI_DIR / name).read_bytes()
    assert http.get(server.base_url + "/_mockmj/ui/secret.py", timeout=10).status_code == 404
    remote = re.compile(r"(src|href)=[\"']?(https?:)?//|url\(\s*['\"]?(https?:)?//|@import|import\s*\(")
    for path in UI_DIR.iterdir():
        assert not remote.search(path.read_text(encoding="utf-8")), path


def test_browsers_are_led_to_the_dashboard_api_clients_keep_the_json_404(make_server: Callable[..., Mock]) -> None:
    for dialect in ("88api", "proxy"):
        mock = make_server(dialect=dialect)
        base, http = mock.base_url, session_of(mock)
        for path in ("/", "/_mockmj/", "/_mockmj"):
            r = http.get(base + path, headers={"Accept": BROWSER_ACCEPT}, allow_redirects=False, timeout=10)
            assert (r.status_code, r.headers.get("Location")) == (302, "/_mockmj/ui"), (dialect, path)
        landed = http.get(base + "/", headers={"Accept": BROWSER_ACCEPT}, timeout=10)
        assert landed.url == base + "/_mockmj/ui" and "<title>mockmj dashboard</title>" in landed.text
        for accept in ("*/*", "application/json", None):
            headers = {"Accept": accept} if accept else {}
            for path in ("/", "/mj/nothing-here"):
                r = http.get(base + path, headers=headers, allow_redirects=False, timeout=10)
                assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json"), r.text
                assert ("code" in r.json()) if dialect == "88api" else (r.json()["error"] == "Not Found")
        r = http.get(base + "/mj/nothing-here", headers={"Accept": BROWSER_ACCEPT}, allow_redirects=False,
                         timeout=10)
        assert r.status_code == 404  # an unknown API path is a 404 for browsers too

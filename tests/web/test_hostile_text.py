"""Hostile input, text: lone surrogates, pathological whitespace, and any string a client may send.

A task stored from a request must render on every later read (fetch, list, queue, callbacks, journal),
and no text may cost the mock more than one linear pass.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockmj.media.images import shorten
from mockmj.model.outcomes import split_directive
from mockmj.serve.inprocess import MockServer
from tests.helpers import Client, balance, task_count


@pytest.fixture(scope="module")
def server(shared_manual: MockServer) -> MockServer:
    return shared_manual


@pytest.fixture(scope="module")
def proxy(shared_manual_proxy: MockServer) -> MockServer:
    return shared_manual_proxy


def raw_post(client: Client, path: str, text: str):
    """POST a JSON text as it is: `requests`' json= would refuse to encode a lone surrogate."""
    return client.http.post(client.base + path, data=text.encode("ascii"), timeout=30,
                            headers=client.headers({"Content-Type": "application/json"}))


@pytest.mark.parametrize(("body", "field"), [
    ('{"prompt":"a \\ud800 cat"}', "prompt"),
    ('{"prompt":"a cat","state":"cut \\udfff here"}', "state"),
    ('{"prompt":"a cat","accountFilter":{"remark":"\\ud83d"}}', "accountFilter"),
])
def test_lone_surrogates_are_refused_naming_the_field(server: MockServer, proxy: MockServer, body: str,
                                                      field: str) -> None:
    for target, status, code in ((server, 400, 21), (proxy, 200, 4)):
        client = Client(target, key=f"surrogate-{field}")
        client.control("POST", "/reset", {"key": client.key})
        credit = balance(client)
        r = raw_post(client, "/mj/submit/imagine", body)
        assert r.status_code == status, r.text
        answer = r.json()
        assert answer["code"] == code and answer["result"] is None
        if target is server:
            assert field in answer["description"] and "not valid Unicode" in answer["description"], answer
        else:
            assert answer["description"].endswith("参数错误，不是有效的Unicode文本"), answer
        assert task_count(client) == 0 and balance(client) == credit


def test_a_well_formed_pair_is_text_not_a_surrogate(server: MockServer) -> None:
    client = Client(server, key="surrogate-pair")
    r = raw_post(client, "/mj/submit/imagine", '{"prompt":"a cat \\ud83d\\ude00","state":"\\ud83d\\udc31"}')
    assert r.json()["code"] == 1, r.text
    task = client.fetch(r.json()["result"])
    assert task["prompt"] == "a cat 😀" and task["state"] == "🐱"


# Text a client may send: any Unicode scalar value (surrogates are not scalar values), with emoji,
# CJK, control characters and whitespace well represented.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60)






# ------------------------------------------------------------------------------ linear text handling
# The directive grammar as the backtracking expression that used to parse it: kept here as the oracle.
OLD_DIRECTIVE = re.compile(r"\s*--mockmj\s+((?:(?!\s--)\S|\s(?!--))+)")


def old_split(prompt: str) -> tuple[str, str | None]:
    m = OLD_DIRECTIVE.search(prompt)
    if not m:
        return prompt, None
    return (prompt[: m.start()] + prompt[m.end():]).strip(), m.group(1).strip()


PROMPT_PIECES = st.lists(st.sampled_from(["a", "cat", " ", "  ", "\t", "--mockmj", "--ar", "3:2", "fail",
                                          "fail:why", "--", "-", "x--mockmj", "\n"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(pieces=PROMPT_PIECES)
def test_directive_scan_agrees_with_the_old_expression(pieces: list[str]) -> None:
    prompt = "".join(pieces)
    expected = old_split(prompt)
    if expected[1] == "":
        expected = (prompt, None)  # one deliberate change: a flag with no value is no directive, left as sent
    assert split_directive(prompt) == expected


def test_directive_in_a_huge_prompt_is_found_and_stripped() -> None:
    prompt = "a" + " " * 200_000 + "b --mockmj fail:late --ar 3:2"
    cleaned, outcome = split_directive(prompt)
    assert outcome == "fail:late" and cleaned.endswith("b --ar 3:2") and cleaned.startswith("a ")


def test_a_prompt_of_a_million_spaces_is_refused_by_its_length(server: MockServer) -> None:
    client = Client(server, key="spaces")
    credit = balance(client)
    r = client.post("/mj/submit/imagine", {"prompt": "a" + " " * 1_000_000 + "b"})
    assert r.status_code == 400 and "prompt is 1000002 characters long; the limit is 6000" in r.json()["description"]
    assert balance(client) == credit


def test_shorten_counts_repeated_words_once_per_word() -> None:
    words = ["castle", "dragon", "castle", "sky", "dragon", "castle"] * 500
    important, prompts = shorten(" ".join(words), "seed")
    assert important[0] == "castle", "the most repeated word scores highest"
    assert len(prompts) == 5 and all(prompts)


def test_journal_entries_of_any_text_are_json(server: MockServer) -> None:
    client = Client(server, key="journal-text")
    raw_post(client, "/mj/submit/imagine", '{"prompt":"\\u0000\\u001f\\u2028 emoji \\ud83d\\ude00"}')
    page = client.http.get(client.base + "/_mockmj/requests?key=journal-text", timeout=30)
    assert page.status_code == 200
    assert json.loads(page.content)["items"][-1]["code"] == 1

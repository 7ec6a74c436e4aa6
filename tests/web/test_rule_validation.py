"""A rule that could never fire, or that answers what no server answers, is refused with a 400 naming the
field, and nothing is stored; the same mistakes in a config are refused before the mock starts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from mockmj import Settings, create_app
from mockmj.config import load_settings


@pytest.fixture(params=["88api", "proxy"])
def control(request: pytest.FixtureRequest) -> Iterator[FlaskClient]:
    app = create_app(Settings(dialect=request.param, timing="manual", seed=3))
    yield app.test_client()
    app.extensions["mockmj"].callbacks.stop()


MISTAKES = [
    pytest.param({"mtch": {"operation": "submitImagine"}, "respond": {"code": 25}}, "mtch: is not a known field",
                 id="misspelt match"),
    pytest.param({"match": {"operation": "submitImagine"}, "respnd": {"code": 25}}, "respnd: is not a known field",
                 id="misspelt respond"),
    pytest.param({"match": {"operation": "submitImagine", "kee": "k"}, "respond": {"code": 25}},
                 "match.kee: is not a known field", id="unknown match field"),
    pytest.param({"respond": {"code": 25, "latency": 10}}, "respond.latency: is not a known field",
                 id="unknown respond field"),
    pytest.param({"match": {"operation": "submitImagin"}, "respond": {"code": 25}},
                 "match.operation: 'submitImagin' is not an operation", id="unknown operation"),
    pytest.param({"match": {"operation": "controlReset"}, "respond": {"code": 25}},
                 "match.operation: 'controlReset' is not an operation", id="control operation"),
    pytest.param({"match": {"action": "upscal"}, "respond": {"code": 25}},
                 "match.action: 'upscal' is not an action or a button kind", id="unknown action"),
    pytest.param({"respond": {"httpStatus": 200}}, "respond.httpStatus: 200 is not an error status",
                 id="status 200 alone"),
    pytest.param({"respond": {"httpStatus": 302}}, "respond.httpStatus: 302 is not an error status",
                 id="redirect status"),
    pytest.param({"respond": {"code": 99}}, "respond.code: 99 is not a refusal code", id="unknown code"),
    pytest.param({"respond": {"code": 1}}, "respond.code: 1 is not a refusal code", id="success code"),
]


@pytest.mark.parametrize(("body", "said"), MISTAKES)
def test_a_mistaken_rule_is_refused_naming_the_field_and_nothing_is_stored(control: FlaskClient,
                                                                          body: dict[str, Any], said: str) -> None:
    answer = control.post("/_mockmj/rules", json=body)
    assert answer.status_code == 400
    assert said in answer.get_json()["error"]
    assert control.get("/_mockmj/rules").get_json() == []


@pytest.mark.parametrize("body", [
    {"match": {"operation": "submitImagine"}, "respond": {"code": 25}, "times": 3},
    {"match": {"action": "UPSCALE"}, "respond": {"latencyMs": 20}},  # action names are not case-sensitive
    {"match": {"action": "imagine"}, "respond": {"code": 24, "httpStatus": 200}},
    {"respond": {"httpStatus": 429, "retryAfter": 5}, "times": 1},
    {"respond": {"code": 23, "httpStatus": 503}},
])
def test_well_formed_rules_are_stored_as_given(control: FlaskClient, body: dict[str, Any]) -> None:
    answer = control.post("/_mockmj/rules", json=body)
    assert answer.status_code == 200, answer.get_json()
    stored = control.get("/_mockmj/rules").get_json()
    assert [(r["match"], r["respond"]) for r in stored] == [(body.get("match", {}), body["respond"])]


def test_the_refusal_lists_what_would_have_been_accepted(control: FlaskClient) -> None:
    error = control.post("/_mockmj/rules", json={"match": {"action": "zom"}, "respond": {"code": 25}}).get_json()
    assert "zoom" in error["error"] and "imagine" in error["error"]


@pytest.mark.parametrize(("option", "value", "said"), [
    ("public_url", "notaurl", "must be an absolute http:// or https:// URL"),
    ("public_url", "ftp://files.example", "must be an absolute http:// or https:// URL"),
    ("public_url", "http://cdn.example/?v=1", "must not carry a query"),
    ("public_url", "http://cdn.example:99999", "port"),
    ("notify_hook", "ftp://x", "must be an absolute http:// or https:// URL"),
    ("notify_hook", "/relative/hook", "must be an absolute http:// or https:// URL"),
])
def test_unusable_urls_are_refused_at_start(option: str, value: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        load_settings(None, environ={}, **{option: value})


@pytest.mark.parametrize(("option", "value"), [
    ("public_url", "https://cdn.example/mock"),
    ("notify_hook", "http://127.0.0.1:9000/hook?tenant=a"),
])
def test_usable_urls_are_kept(option: str, value: str) -> None:
    assert getattr(load_settings(None, environ={}, **{option: value}), option) == value

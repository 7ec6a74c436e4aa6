"""What makes a start cheap must not change what the mock does: the parsed OpenAPI document kept on disk is
the document, URL rules whose builders are compiled late build the URLs werkzeug's own would, validators
made on first use validate as eagerly made ones did, and a module imported on first use is that module."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from werkzeug.routing import Map, Rule

from mockmj.config import Settings
from mockmj.media.pillow import LazyModule
from mockmj.web import spec
from mockmj.web.app import create_app
from mockmj.web.routing import LazyBuilderRule

SMALL = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "mockmj"


def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts parsed from YAML from now on (the others came from the cache)."""
    seen: list[str] = []
    real = spec.parse_yaml

    def counted(text: str) -> dict[str, Any]:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(spec, "parse_yaml", counted)
    return seen


def test_the_cached_document_is_the_parsed_one(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = spec.spec_text()
    first = spec.parsed("openapi.yaml", text)
    assert (cache / f"openapi.yaml.{spec.CACHE_FORMAT}.json").is_file()
    seen = parses(monkeypatch)
    again = spec.parsed("openapi.yaml", text)
    assert seen == []  # read back, not parsed
    assert again == first == spec.parse_yaml(text)


def test_a_changed_text_is_parsed_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec.parsed("doc.yaml", SMALL)
    changed = SMALL.replace("version: '1'", "version: '2'")
    seen = parses(monkeypatch)
    assert spec.parsed("doc.yaml", changed)["info"]["version"] == "2"
    assert spec.parsed("doc.yaml", changed)["info"]["version"] == "2"
    assert seen == [changed]  # once: the cache now holds the new text's document


@pytest.mark.parametrize("content", ["{not json", '{"digest": 1}', "[]", '{"digest": "x", "document": []}'])
def test_a_spoiled_cache_file_is_parsed_over(cache: Path, monkeypatch: pytest.MonkeyPatch, content: str) -> None:
    cache.mkdir(parents=True)
    (cache / f"doc.yaml.{spec.CACHE_FORMAT}.json").write_text(content, encoding="utf-8")
    seen = parses(monkeypatch)
    assert spec.parsed("doc.yaml", SMALL)["openapi"] == "3.1.0"
    assert spec.parsed("doc.yaml", SMALL)["openapi"] == "3.1.0"
    assert seen == [SMALL]


def test_a_cache_that_cannot_be_written_costs_only_the_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would be", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    seen = parses(monkeypatch)
    assert spec.parsed("doc.yaml", SMALL)["paths"] == {}
    assert spec.parsed("doc.yaml", SMALL)["paths"] == {}
    assert seen == [SMALL, SMALL]  # parsed each time: nothing was kept, and nothing failed


def test_a_document_json_would_change_is_not_cached(cache: Path) -> None:
    text = SMALL + "x-dated: 2026-01-02\nx-codes: {200: ok}\n"  # a date and an integer key
    document = spec.parsed("doc.yaml", text)
    assert document["x-codes"] == {200: "ok"}
    assert not (cache / f"doc.yaml.{spec.CACHE_FORMAT}.json").exists()


def test_the_cache_file_is_readable_by_other_users(cache: Path) -> None:
    """The container image writes the cache as root when it is built and reads it as its own user."""
    spec.parsed("doc.yaml", SMALL)
    mode = (cache / f"doc.yaml.{spec.CACHE_FORMAT}.json").stat().st_mode
    assert mode & 0o044 == 0o044, oct(mode)


def test_no_temporary_file_is_left_behind(cache: Path) -> None:
    spec.parsed("doc.yaml", SMALL)
    assert sorted(os.listdir(cache)) == [f"doc.yaml.{spec.CACHE_FORMAT}.json"]
    assert json.loads((cache / f"doc.yaml.{spec.CACHE_FORMAT}.json").read_text(encoding="utf-8"))["document"]


def _rules() -> list[Rule]:
    return list(create_app(Settings()).url_map.iter_rules())


def test_every_rule_builds_the_url_werkzeugs_own_rule_builds() -> None:
    rules = _rules()
    assert rules and all(isinstance(rule, LazyBuilderRule) for rule in rules)
    eager, lazy = Map(), Map()
    for rule in rules:
        eager.add(Rule(rule.rule, endpoint=rule.endpoint, methods=rule.methods))
        lazy.add(LazyBuilderRule(rule.rule, endpoint=rule.endpoint, methods=rule.methods))
    assert any(rule.arguments for rule in rules)  # some URLs are built from arguments, not only constant ones
    for rule in rules:
        values = {name: "a b/é" for name in rule.arguments}
        method = sorted(rule.methods or {"GET"})[0]
        for extra in ({}, {"page": "2", "q": "x y"}):
            expected = eager.bind("mock.test").build(rule.endpoint, {**values, **extra}, method=method)
            assert lazy.bind("mock.test").build(rule.endpoint, {**values, **extra}, method=method) == expected


def test_validators_made_on_first_use_validate() -> None:
    document = spec.ApiSpec(spec.spec_text(), "urn:mockmj:openapi.yaml")  # its own: no earlier use
    operation = next(op for op in document.operations if op.operation_id == "submitImagine")
    assert "body_validator" not in vars(operation) and "responses" not in vars(operation)
    fetch = next(op for op in document.operations if op.operation_id == "fetchTask")
    assert operation.takes_body and not fetch.takes_body
    assert "body_validator" not in vars(operation)  # asking whether it takes a body built nothing
    assert [error.validator for error in operation.body_errors({"prompt": 1})] == ["type"]
    assert operation.body_errors({"prompt": "a cat"}) == []
    assert operation.check_response(200, {"code": "one"}, True) is not None
    assert operation.check_response(599, {}, True) == "submitImagine: HTTP 599 is not a documented response"


def test_a_lazy_module_is_the_module_once_used() -> None:
    import colorsys

    lazy = LazyModule("colorsys")
    assert lazy.rgb_to_hsv is colorsys.rgb_to_hsv and lazy.ONE_THIRD == colorsys.ONE_THIRD
    with pytest.raises(AttributeError):
        lazy.no_such_name  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        LazyModule("mockmj.no_such_module").anything  # noqa: B018

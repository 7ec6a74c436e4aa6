"""openapi.yaml is the source of truth: it is valid, every operation is bound to a handler by its
operationId and nothing else is, and the running mock serves it (and its control twin) back."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from mockmj.config import Settings
from mockmj.web import handlers
from mockmj.web.app import create_app
from tests.helpers import Client
from tests.helpers import Mock as MockServer

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ROOT / "openapi.yaml"
CONTROL = ROOT / "mockmj" / "control-openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MODE_PREFIXES = ("/mj-fast", "/mj-relax", "/mj-turbo")


@functools.cache
def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def parse(text: str) -> Any:
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    return parse(_text(path))


def load(path: Path) -> dict[str, Any]:
    """The parsed document (a fresh copy: tests may not change the cached one)."""
    return copy.deepcopy(_load(path))


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation object) for every operation of a document."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def walk(node: Any, where: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(location, key, value) for every mapping entry anywhere in a parsed document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield where, key, value
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}/{i}")


def flask_rule(path: str) -> str:
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


@pytest.mark.parametrize("path", [PUBLIC, CONTROL], ids=["openapi.yaml", "control-openapi.yaml"])
def test_document_validates(path: Path) -> None:
    document = load(path)
    assert str(document["openapi"]).startswith("3.1")
    validate(document)  # raises OpenAPIValidationError


@pytest.mark.parametrize("path", [PUBLIC, CONTROL], ids=["openapi.yaml", "control-openapi.yaml"])
def test_every_operation_has_a_unique_operation_id(path: Path) -> None:
    ids = []
    for method, route, op in operations(load(path)):
        assert isinstance(op.get("operationId"), str) and op["operationId"], f"{method} {route} has no operationId"
        ids.append(op["operationId"])
    assert ids
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("path", [PUBLIC, CONTROL], ids=["openapi.yaml", "control-openapi.yaml"])
def test_no_nullable_anywhere(path: Path) -> None:
    """OpenAPI 3.1 spells a null with type lists; `nullable` is a 3.0 keyword that 3.1 ignores."""
    found = [where for where, key, _ in walk(load(path)) if key == "nullable"]
    assert found == []
    assert not re.search(r"^\s*nullable\s*:", path.read_text(encoding="utf-8"), re.MULTILINE)


def test_links_name_existing_operations() -> None:
    document = load(PUBLIC)
    known = {op["operationId"] for _, _, op in operations(document)}
    linked = [value for _, key, value in walk(document) if key == "operationId"]
    assert set(linked) <= known


def test_operation_ids_and_handlers_match() -> None:
    ids = {op["operationId"] for _, _, op in operations(load(PUBLIC))}
    assert ids == set(handlers.HANDLERS)
    assert all(callable(h) for h in handlers.HANDLERS.values())


def test_control_operations_are_under_the_control_prefix() -> None:
    for method, route, op in operations(load(CONTROL)):
        assert route.startswith("/_mockmj/"), f"{method} {route}"
        assert op["operationId"].startswith("control")
    for _, route, _ in operations(load(PUBLIC)):
        assert not route.startswith("/_mockmj")


def allowed_routes() -> dict[tuple[str, str], str]:
    """(flask rule, METHOD) → operationId for everything the two documents allow."""
    allowed: dict[tuple[str, str], str] = {}
    for method, route, op in operations(load(PUBLIC)):
        allowed[(flask_rule(route), method)] = op["operationId"]
        if route.startswith("/mj/"):
            for prefix in MODE_PREFIXES:
                allowed[(flask_rule(prefix + route), method)] = op["operationId"]
    for method, route, op in operations(load(CONTROL)):
        allowed[(flask_rule(route), method)] = op["operationId"]
    return allowed


@functools.cache
def bound_routes() -> frozenset[tuple[str, str]]:
    app = create_app(Settings())
    try:
        bound = set()
        for rule in app.url_map.iter_rules():
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                bound.add((rule.rule, method))
        return frozenset(bound)
    finally:
        app.extensions["mockmj"].callbacks.stop()


def test_the_mode_prefixes_are_declared() -> None:
    assert tuple(load(PUBLIC)["x-mockmj-mode-prefixes"]) == MODE_PREFIXES


def test_every_spec_operation_is_routed() -> None:
    missing = set(allowed_routes()) - bound_routes()
    assert missing == set()


def test_no_route_outside_the_spec() -> None:
    extra = bound_routes() - set(allowed_routes())
    assert extra == set()


def test_a_spec_operation_without_handler_stops_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(handlers.HANDLERS, "getImageSeed")
    with pytest.raises(RuntimeError, match="getImageSeed"):
        create_app(Settings())


def test_create_app_works_with_every_handler() -> None:
    app = create_app(Settings())
    app.extensions["mockmj"].callbacks.stop()
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(handlers.HANDLERS) <= endpoints


# ------------------------------------------------------------------------------------ served
def test_serves_openapi_yaml(server: MockServer) -> None:
    anonymous = Client(server, key=None)  # the document needs no key
    r = anonymous.get("/openapi.yaml")
    assert r.status_code == 200
    assert "yaml" in r.headers["Content-Type"]
    assert parse(r.text) == load(PUBLIC)


def test_serves_the_control_document(server: MockServer) -> None:
    r = Client(server, key=None).get("/_mockmj/openapi.yaml")
    assert r.status_code == 200
    assert "yaml" in r.headers["Content-Type"]
    assert parse(r.text) == load(CONTROL)


def test_docs_page_lists_every_operation(server: MockServer) -> None:
    r = Client(server, key=None).get("/docs")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    page = r.text
    assert page.lstrip().lower().startswith("<!doctype html")
    for method, route, op in [*operations(load(PUBLIC)), *operations(load(CONTROL))]:
        assert op["operationId"] in page, op["operationId"]
        assert f"{method} {route}" in page, f"{method} {route}"


def test_unknown_public_path_is_404(client: Client) -> None:
    for path in ("/mj/submit/nothing", "/mj/task/1/nothing", "/api/v1/mj/submit/imagine", "/"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["result"] is None

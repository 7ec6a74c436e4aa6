"""The contract suite keeps every difference between dialects in the table of contracts/dialects.py: no
module of the suite compares a dialect's name."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from contracts.client import Budget, Client, Counters, Spacer
from contracts.dialects import EIGHTY_EIGHT, EXPECTATIONS, PROXY, Expectations

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
NAMES = set(EXPECTATIONS)


def _names_a_dialect(value: ast.expr) -> bool:
    """"proxy", or a tuple/list/set holding such a name."""
    if isinstance(value, ast.Constant):
        return value.value in NAMES
    return isinstance(value, ast.Tuple | ast.List | ast.Set) and any(_names_a_dialect(e) for e in value.elts)


def _is_dialect(value: ast.expr) -> bool:
    """`target.dialect`, `self.dialect`, `dialect`, `expect.name`: what holds a dialect's name."""
    text = ast.unparse(value)
    return "dialect" in text or text.endswith(".name")


def _is_name_test(node: ast.Compare) -> bool:
    """`target.dialect == "proxy"`, `"88api" != expect.name`, `dialect in ("proxy", …)`. (A document's key
    that happens to be spelt like a dialect, as in report.py, is not a dialect.)"""
    values = [node.left, *node.comparators]
    return any(_names_a_dialect(v) for v in values) and any(_is_dialect(v) for v in values)


@pytest.mark.parametrize("path", sorted(p for p in CONTRACTS.glob("*.py") if p.name != "dialects.py"),
                         ids=lambda p: p.name)
def test_no_dialect_name_is_compared_outside_the_table(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
             if isinstance(node, ast.Compare) and _is_name_test(node)]
    assert not found, f"a dialect difference belongs in contracts/dialects.py: {found}"


def test_every_dialect_fills_every_field() -> None:
    for expect in EXPECTATIONS.values():
        assert all(getattr(expect, f.name) is not None for f in dataclasses.fields(Expectations))


def test_how_each_dialect_sends_the_key() -> None:
    assert EIGHTY_EIGHT.key_headers("sk") == {"Authorization": "Bearer sk"}
    assert PROXY.key_headers("sk") == {"mj-api-secret": "sk"}
    assert (EIGHTY_EIGHT.key_header_label, PROXY.key_header_label) == ("Authorization: Bearer", "mj-api-secret")
    for name, expect in EXPECTATIONS.items():
        client = Client("http://127.0.0.1:9", "sk", name, Budget(None), Spacer(None), Counters())
        assert client.auth_headers() == expect.key_headers("sk")
        assert client.auth_headers("") == {}


def test_the_differences_between_the_dialects() -> None:
    assert (PROXY.auth_may_be_off, EIGHTY_EIGHT.auth_may_be_off) == (True, False)
    assert (PROXY.spring_errors, EIGHTY_EIGHT.spring_errors) == (True, False)
    assert (PROXY.refuses_schema_violations, EIGHTY_EIGHT.refuses_schema_violations) == (False, True)
    assert (PROXY.empty_body_statuses, EIGHTY_EIGHT.empty_body_statuses) == ({200, 401}, frozenset())

"""SCHEMA-1/2: schemathesis over openapi.yaml; every case goes through the suite's budgeted client.

Against an unlimited (local) target: the examples, coverage and fuzzing phases, positive and negative
data. With a finite budget (`--mj-budget`): positive data only, no coverage phase (it sends a fixed
~65 cases per submit operation), no shrinking and no example database (both replay requests), and
the billable operations only get their documented examples - as many as the budget allows, after
every other clause had its share. The schemathesis checks that would send extra requests
(ignored_auth, stateful) are never used; status-based negative_data_rejection does not fit an API
that refuses with HTTP 200 + a business code, so BAD-2 re-validates the body actually sent instead.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis import checks as st_checks

from . import runtime
from .checks import (
    check_compact,
    check_error_body,
    check_no_server_error,
    check_submit_envelope,
    rejected_without_task,
)
from .client import BudgetExhausted, is_billable
from .dialects import empty_body

RUN = runtime.current()
OPTS = RUN.opts
LIMITED = OPTS.limited
if not (OPTS.selects("SCHEMA-1") or OPTS.selects("SCHEMA-2")):
    # building the schemathesis tests costs seconds of collection: not for a run that skips them
    pytest.skip("SCHEMA-* not selected (--mj-clauses)", allow_module_level=True)


def _config() -> schemathesis.Config:
    generation: dict[str, Any] = {
        "mode": "positive" if LIMITED else "all",
        "max-examples": 2 if LIMITED else OPTS.max_examples,
        "database": "none",
        "no-shrink": LIMITED,
        # the suite sends the key itself (AUTH-* check auth); generated Authorization headers would
        # only turn most cases into 401s
        "with-security-parameters": False,
    }
    if OPTS.seed is None:
        generation["deterministic"] = True
    phases: dict[str, Any] = {
        "examples": {"enabled": True},
        "coverage": {"enabled": not LIMITED, "unexpected-methods": []},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    }
    data: dict[str, Any] = {"generation": generation, "phases": phases}
    if OPTS.seed is not None:
        data["seed"] = OPTS.seed
    if LIMITED:
        data["operations"] = [{"include-tag": "Submit", "phases": {"fuzzing": {"enabled": False}}}]
    return schemathesis.Config.from_dict(data)


schema = schemathesis.openapi.from_path(str(OPTS.spec), config=_config())
SPEC: dict[str, Any] = schema.raw_schema
_REGISTRY = Registry().with_resource("urn:mj-spec", Resource.from_contents(SPEC, default_specification=DRAFT202012))

CONFORMANCE = [st_checks.status_code_conformance, st_checks.content_type_conformance,
               st_checks.response_headers_conformance, st_checks.response_schema_conformance]


def _body_validator(path: str, method: str) -> Draft202012Validator | None:
    op = SPEC["paths"].get(path, {}).get(method.lower(), {})
    if "requestBody" not in op or "application/json" not in op["requestBody"].get("content", {}):
        return None
    pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1") + f"/{method.lower()}"
    ref = f"urn:mj-spec#{pointer}/requestBody/content/application~1json/schema"
    return Draft202012Validator({"$ref": ref}, registry=_REGISTRY)


def _body_breaks_schema(case: Any) -> bool:
    validator = _body_validator(case.operation.path, case.operation.method)
    if validator is None:
        return False
    body = case.body
    if type(body).__name__ == "NotSet":
        return True  # the body is required
    if case.media_type and "json" not in case.media_type:
        return True
    return next(iter(validator.iter_errors(body)), None) is not None


def _failure_text(exc: BaseException) -> str:
    parts = getattr(exc, "exceptions", None) or [exc]
    texts = []
    for p in parts:
        title = getattr(p, "title", "") or type(p).__name__
        message = getattr(p, "message", "") or str(p)
        texts.append(f"{title}: {' '.join(str(message).split())[:300]}")
    return "; ".join(texts)


# The mock's own routes (the image store standing in for the Discord CDN, this document, the docs
# page) are not part of the proxy API that a deployment promises; LIFE-6 checks the images.
API = schema.exclude(tag="Images").exclude(tag="Meta")


@pytest.mark.clauses("SCHEMA-1", "SCHEMA-2")
@pytest.mark.cost(billable=0, priority=6)
@API.parametrize()
def test_schema(case: Any) -> None:
    run = runtime.current()
    target, client, rec = run.usable_target(), run.client(), run.rec
    op = case.operation
    billable = is_billable(op.method, op.path)
    cid = "SCHEMA-2" if billable else "SCHEMA-1"
    if billable and run.budget.remaining() < 1:
        raise BudgetExhausted(f"billable budget exhausted before {op.method.upper()} {op.path}"
                              f" (--mj-budget {run.budget.limit})")
    kwargs = case.as_transport_kwargs(base_url=target.base_url, headers=client.auth_headers())
    method = kwargs.pop("method")
    url = kwargs.pop("url")
    resp = client.send_raw(method, url, **kwargs)
    ex = client.exchange(resp, case.body if type(case.body).__name__ != "NotSet" else None)
    off_spec_method = case.method.upper() != op.method.upper()
    with rec.soft():
        check_no_server_error(rec, ex)
        check_compact(rec, ex)
        if off_spec_method:
            return
        check_error_body(rec, ex, target.expect)
        if billable and ex.status == 200 and op.path.startswith("/mj/submit/") and "upload" not in op.path:
            check_submit_envelope(rec, ex, target.expect)
        negative = case.meta is not None and case.meta.generation.mode.is_negative
        # The proxy reads bodies with Jackson, which coerces scalars and ignores unknown fields
        # (upstream §1): only the 88API dialect promises to refuse every schema violation.
        if negative and billable and target.expect.refuses_schema_violations and _body_breaks_schema(case):
            rec.check("BAD-2", rejected_without_task(ex, target.expect),
                      lambda: f"schema-violating body accepted: {ex.brief()}")
        if ex.status in target.expect.empty_body_statuses and empty_body(ex):
            rec.reading(cid, f"HTTP {ex.status} with an empty body ({target.dialect} dialect): not compared with "
                             "the schema")
            rec.ok(cid)
            return
        try:
            case.validate_response(resp, checks=CONFORMANCE)
        except BaseException as exc:  # schemathesis raises FailureGroup, a BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            rec.fail(cid, f"{op.method.upper()} {op.path}: {_failure_text(exc)} — {ex.brief(200)}")
        else:
            rec.ok(cid)

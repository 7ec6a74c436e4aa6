"""The OpenAPI document as the code's input: routes, request validation and response validation.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so the document itself is registered as a `referencing`
resource and every `$ref` inside it resolves without copying anything.

Start-up cost: the routes need only the document; a schema's validator (and jsonschema itself) is made the
first time that schema is used. The parsed document is kept as JSON in the user's cache directory, keyed by
the text's digest: reading it back is some 50 times faster than parsing the YAML again at every start.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
CACHE_FORMAT = 1  # bumped when what is cached changes shape: older files are then ignored


def spec_text(name: str = "openapi.yaml") -> str:
    """The document's text: packaged inside mockmj, or at the repository root in a checkout."""
    packaged = resources.files("mockmj").joinpath(name)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    for candidate in (Path(__file__).resolve().parents[2] / name, Path(__file__).resolve().parents[1] / name):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError(f"{name} is neither packaged with mockmj nor at the repository root")


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str  # OpenAPI template, e.g. /mj/task/{id}/fetch
    public: bool  # security: [] (no key needed)
    body_schema: dict[str, Any] | None
    response_schemas: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # status → body schema
    validator_of: Any = field(default=None, repr=False, compare=False)  # schema → validator (ApiSpec._validator)

    @property
    def takes_body(self) -> bool:
        """Whether the operation reads a JSON body: answered without building its validator."""
        return self.body_schema is not None

    @cached_property
    def body_validator(self) -> Draft202012Validator | None:
        """None when the operation takes no JSON body; made on first use (see the module's docstring)."""
        return None if self.body_schema is None else self.validator_of(self.body_schema)

    @cached_property
    def responses(self) -> dict[str, Draft202012Validator | None]:
        return {code: None if schema is None else self.validator_of(schema)
                for code, schema in self.response_schemas.items()}

    def body_errors(self, body: Any) -> list[ValidationError]:
        """What is wrong with a request body, shallowest field first (none: it agrees with the document)."""
        assert self.body_validator is not None
        errors = self.body_validator.iter_errors(body)
        return sorted(errors, key=lambda e: (len(e.absolute_path), str(e.absolute_path)))

    @property
    def flask_path(self) -> str:
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)

    def check_response(self, status: int, payload: Any, has_body: bool) -> str | None:
        """None when the response agrees with the document, else what is wrong."""
        key = str(status) if str(status) in self.response_schemas else "default"
        if key not in self.response_schemas:
            return f"{self.operation_id}: HTTP {status} is not a documented response"
        validator = self.responses[key]
        if validator is None or not has_body:
            return None
        errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
        if errors:
            return f"{self.operation_id} HTTP {status}: {describe_error(errors[0])}"
        return None


def describe_error(error: ValidationError) -> str:
    """'accountFilter.modes[0]: 'SLOW' is not one of [...]' — the field first, then the rule.

    The offending value is never echoed whole: a rejected base64Array can be megabytes.
    """
    where = ""
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    rule, limit, value = error.validator, error.validator_value, error.instance
    if rule == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else "a field"
        return f"{where + '.' if where else ''}{name}: is required"
    field = where or "body"
    if rule == "additionalProperties" and limit is False:
        unknown = [name for name in value if name not in error.schema.get("properties", {})]
        known = ", ".join(sorted(error.schema.get("properties", {})))
        return f"{where + '.' if where else ''}{unknown[0][:60]}: is not a known field (known: {known})"
    if rule in ("minItems", "maxItems"):
        bound = "at least" if rule == "minItems" else "at most"
        return f"{field}: must hold {bound} {limit} item(s), got {len(value)}"
    if rule in ("minLength", "maxLength"):
        bound = "at least" if rule == "minLength" else "at most"
        return f"{field}: must be {bound} {limit} characters long, got {len(value)}"
    if rule == "type":
        wanted = " or ".join(limit) if isinstance(limit, list) else limit
        return f"{field}: must be of type {wanted}, not {_json_type(value)}"
    if rule == "enum":
        return f"{field}: {_short(value)} is not one of {', '.join(map(str, limit))}"
    if rule == "pattern":
        return f"{field}: {_short(value)} does not match the pattern {limit}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{field}: {_short(value)} breaks {rule} {limit}"
    return f"{field}: {error.message[:200]}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


class ApiSpec:
    def __init__(self, text: str, uri: str, document: dict[str, Any] | None = None) -> None:
        self.text = text
        self.document: dict[str, Any] = parse_yaml(text) if document is None else document
        self.uri = uri

    @cached_property
    def registry(self) -> Registry:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        return Registry().with_resource(self.uri, resource)

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        from jsonschema import Draft202012Validator

        # Refs are resolved against the whole registered document, so '#/components/...' works.
        return Draft202012Validator(_rebase(self._followed(schema), self.uri), registry=self.registry)

    def _followed(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A schema that is nothing but a local `$ref` is its target: followed once here rather than
        looked up in the registry at every validation (a third of validating a submit body)."""
        while isinstance(schema, dict) and set(schema) == {"$ref"} and str(schema["$ref"]).startswith("#/"):
            schema = self._pointer(schema["$ref"])
        return schema

    @cached_property
    def operations(self) -> list[Operation]:
        ops = []
        global_security = self.document.get("security", [])
        for path, item in self.document.get("paths", {}).items():
            for method in HTTP_METHODS:
                op = item.get(method)
                if op is None:
                    continue
                if "operationId" not in op:
                    raise ValueError(f"{method.upper()} {path} has no operationId")
                body_schema = (
                    op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
                )
                responses: dict[str, dict[str, Any] | None] = {}
                for code, response in op.get("responses", {}).items():
                    response = self.resolve(response)
                    responses[str(code)] = response.get("content", {}).get("application/json", {}).get("schema")
                ops.append(
                    Operation(
                        operation_id=op["operationId"],
                        method=method.upper(),
                        path=path,
                        public=op.get("security", global_security) == [],
                        body_schema=body_schema,
                        response_schemas=responses,
                        validator_of=self._validator,
                    )
                )
        return ops

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self._pointer(node["$ref"])
        return node

    def _pointer(self, ref: str) -> Any:
        """The node a local reference ('#/components/...') points at."""
        target: Any = self.document
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        return target

    def extension(self, name: str, default: Any = None) -> Any:
        return self.document.get(name, default)


def _rebase(schema: Any, uri: str) -> Any:
    """Copy a schema fragment with its local '#/…' refs pointed at the registered document."""
    if isinstance(schema, dict):
        return {
            k: (f"{uri}{v}" if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v, uri))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v, uri) for v in schema]
    return schema


@functools.lru_cache(maxsize=4)
def load_spec(name: str = "openapi.yaml") -> ApiSpec:
    """Parsed once per process: the document never changes while the process runs."""
    text = spec_text(name)
    return ApiSpec(text, f"urn:mockmj:{name}", parsed(name, text))


# ------------------------------------------------------------------------------------ the parsed document
def cache_dir() -> Path | None:
    """Where parsed documents are kept: $XDG_CACHE_HOME/mockmj, else ~/.cache/mockmj (None: no home)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no password entry (a container's arbitrary user)
            return None
    return Path(base) / "mockmj"


def parsed(name: str, text: str) -> dict[str, Any]:
    """The document `name` (whose text is `text`) as Python data: from the cache when this very text was parsed
    before, else parsed, and cached when it survives a trip through JSON unchanged (as OpenAPI documents do).
    One file per document name, overwritten when the text changes. A cache that cannot be read or written (a
    read-only home, a full disk) only costs the parse."""
    directory = cache_dir()
    if directory is None:
        return parse_yaml(text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    cached = directory / f"{name}.{CACHE_FORMAT}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # absent, unreadable, not ours: parsed
        kept = json.loads(cached.read_text(encoding="utf-8"))
        if kept["digest"] == digest and isinstance(kept["document"], dict):
            return dict(kept["document"])
    document = parse_yaml(text)
    with contextlib.suppress(OSError, ValueError, TypeError):
        encoded = json.dumps({"digest": digest, "document": document})
        if json.loads(encoded)["document"] == document:  # no dates, no integer keys: JSON gives it back as is
            _write_atomically(cached, encoded)
    return document


def parse_yaml(text: str) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~20x faster
    document = yaml.load(text, Loader=loader)
    if not isinstance(document, dict):
        raise ValueError("an OpenAPI document must be a mapping at its top level")
    return document


def _write_atomically(path: Path, text: str) -> None:
    """Whole or not at all: processes starting together may write the same file; a reader sees one of them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    # mkstemp makes the file its owner's alone (0600): the container image writes the cache as root at build
    # time and reads it as its own user, so it is made readable to all, as a plain open() would have made it
    os.fchmod(handle, 0o644)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise

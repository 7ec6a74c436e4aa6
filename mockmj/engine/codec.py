"""Store records as data: JSON with a schema version, never pickles.

Why not pickle: a pickle names code to run when it is read, so whoever can write to a shared store (a Redis
database without a password) could run code in every worker; and a pickle is tied to the classes of the
version that wrote it (a `list` subclass whose slot was read while unpickling made one task with images poison
a whole store). A record here is a JSON document `{"mockmj": SCHEMA, "v": VALUE}`; reading one builds only
plain values and the few classes named in `CLASSES`, through their own constructors, so a hostile record can at
worst hold wrong values — it cannot run code.

The value encoding (JSON has no tuples, sets, bytes, enums or infinities):

- null, booleans, integers, finite floats, strings and lists are themselves;
- a dict whose keys are strings none of which starts with "$" is itself; any other dict is `{"$d": [[k, v], …]}`;
- `{"$t": […]}` a tuple, `{"$s": […]}` a set, `{"$q": […]}` a deque, `{"$b": "base64"}` bytes,
  `{"$f": "inf" | "-inf" | "nan"}` a float JSON cannot write, `{"$e": ["Status", "SUCCESS"]}` an enum member,
  `{"$p": [[status, progress, at], …]}` a task's milestone path, `{"$o": ["Task", {field: value, …}]}` an object.

An object's fields are written by name, so a later version that adds a field with a default reads older records
unchanged (the field takes its default), and fields it does not know are ignored. A change that older workers
could not read bumps SCHEMA; a worker refuses a record of a schema it does not know rather than misread it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
from collections import deque
from enum import Enum
from typing import Any

from mockmj.engine.accounts import Account, ApiKey
from mockmj.engine.rules import Rule
from mockmj.model.tasks import MilestonePath, Task
from mockmj.model.values import Action, Milestone, Outcome, Status

SCHEMA = 1

# The only classes a record may build; each through its dataclass constructor.
CLASSES: dict[str, type] = {cls.__name__: cls for cls in (Task, Milestone, Outcome, Account, ApiKey, Rule)}
ENUMS: dict[str, type[Enum]] = {cls.__name__: cls for cls in (Status, Action)}
_FIELDS = {name: {f.name: f for f in dataclasses.fields(cls)} for name, cls in CLASSES.items()}


class RecordError(Exception):
    """A record this version cannot read: corrupt, foreign, or of an unknown schema (not a ValueError: it is
    never a client's bad input)."""


def dumps(value: Any) -> bytes:
    """The record of one value (UTF-8 JSON)."""
    return json.dumps({"mockmj": SCHEMA, "v": _encode(value)}, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """The value of one record; RecordError when it is not one this version can read."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise RecordError(f"not a mockmj record ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(document, dict) or "mockmj" not in document or "v" not in document:
        raise RecordError("not a mockmj record (no schema version)")
    if document["mockmj"] != SCHEMA:
        raise RecordError(f"a record of schema {document['mockmj']!r}; this mockmj reads schema {SCHEMA} only "
                          f"(written by another version of mockmj?)")
    try:
        return _decode(document["v"])
    except RecordError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        raise RecordError(f"a malformed mockmj record ({type(exc).__name__}: {str(exc)[:80]})") from None


# ------------------------------------------------------------------------------------------------ encoding
def _encode(value: Any) -> Any:
    if isinstance(value, Enum):  # before str and int: StrEnum members are strings too
        name = type(value).__name__
        if name not in ENUMS:
            raise TypeError(f"no record form for the enum {name}")
        return {"$e": [name, value.value]}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$f": repr(value)}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"$d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$t": [_encode(v) for v in value]}
    if isinstance(value, set | frozenset):
        items = [_encode(v) for v in value]
        # sorted: the same set makes the same bytes
        return {"$s": sorted(items, key=lambda item: json.dumps(item, sort_keys=True))}
    if isinstance(value, deque):
        return {"$q": [_encode(v) for v in value]}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, MilestonePath):
        return {"$p": [[m.status.value, m.progress, m.at] for m in (value.value(i) for i in range(len(value)))]}
    name = type(value).__name__
    if name in CLASSES and type(value) is CLASSES[name]:
        return {"$o": [name, {f: _encode(getattr(value, f)) for f in _FIELDS[name]}]}
    raise TypeError(f"no record form for a {name}")


# ------------------------------------------------------------------------------------------------ decoding
def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value  # null, a boolean, a number, a string
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag.startswith("$"):
            return _tagged(tag, inner)
    return {k: _decode(v) for k, v in value.items()}


def _tagged(tag: str, inner: Any) -> Any:
    if tag == "$t":
        return tuple(_decode(v) for v in _list(inner, tag))
    if tag == "$s":
        return {_decode(v) for v in _list(inner, tag)}
    if tag == "$q":
        return deque(_decode(v) for v in _list(inner, tag))
    if tag == "$d":
        return {_decode(k): _decode(v) for k, v in _list(inner, tag)}
    if tag == "$b":
        try:
            return base64.b64decode(inner, validate=True)
        except (binascii.Error, TypeError) as exc:
            raise RecordError(f"bad bytes in a record ({exc})") from None
    if tag == "$f":
        if inner not in ("inf", "-inf", "nan"):
            raise RecordError(f"bad float {inner!r} in a record")
        return float(inner)
    if tag == "$e":
        name, member = _list(inner, tag)
        if name not in ENUMS:
            raise RecordError(f"unknown enum {name!r} in a record")
        return ENUMS[name](member)
    if tag == "$p":
        return MilestonePath(Milestone(Status(s), p, at) for s, p, at in _list(inner, tag))
    if tag == "$o":
        name, fields = _list(inner, tag)
        if name not in CLASSES or not isinstance(fields, dict):
            raise RecordError(f"unknown object kind {name!r} in a record")
        return _build(name, {k: _decode(v) for k, v in fields.items() if k in _FIELDS[name]})
    raise RecordError(f"unknown tag {tag!r} in a record")


def _list(inner: Any, tag: str) -> list[Any]:
    if not isinstance(inner, list):
        raise RecordError(f"{tag} in a record holds no list")
    return inner


def _build(name: str, values: dict[str, Any]) -> Any:
    """Through the constructor (its checks, its interning), then the fields it recomputed set back (an
    Account's constructor empties its load, a record carries the load it had)."""
    cls, fields = CLASSES[name], _FIELDS[name]
    obj = cls(**{k: v for k, v in values.items() if fields[k].init})
    for k, v in values.items():
        if getattr(obj, k) != v:
            setattr(obj, k, v)
    return obj

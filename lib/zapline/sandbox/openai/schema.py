"""The smallest JSON value a JSON Schema accepts: what the stand-in answers to ``json_schema``.

Structured Outputs accept a subset of JSON Schema (objects whose properties are all required,
``additionalProperties: false``, ``$defs``/``$ref``, ``anyOf``, ``enum``/``const``, arrays, the
scalar types, a few string formats); that subset is what this generates for. Objects get their
required properties only, the first ``anyOf``/``oneOf`` branch is taken, enums give their first
value, numbers the smallest value their bounds allow, strings their minimum length. ``pattern``
and ``multipleOf`` are not solved: a schema relying on them may get an instance it rejects.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["instance"]

MAX_DEPTH = 32  # a recursive schema ($ref to itself through required props) stops here with null

FORMATS = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00Z",
    "duration": "P0D",
    "email": "user@example.com",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def instance(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A minimal value valid for ``schema`` (``root`` resolves ``#/...`` references)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None  # ``true`` or ``{}`` accept anything, null included
    if "$ref" in schema:
        return instance(_resolve(root, str(schema["$ref"])), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return instance(schema[key][0], root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(root, str(part["$ref"])) if isinstance(part, dict) and "$ref" in part else part
            if isinstance(part, dict):
                merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
                merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
                merged["required"] = [*merged.get("required", []), *part.get("required", [])]
        return instance(merged, root, depth + 1)
    kind = _type(schema)
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: instance(properties.get(name, {}), root, depth + 1) for name in schema.get("required") or []}
    if kind == "array":
        prefix = schema.get("prefixItems") or []
        count = max(int(schema.get("minItems") or 0), len(prefix))
        items = [instance(p, root, depth + 1) for p in prefix]
        return items + [instance(schema.get("items", {}), root, depth + 1) for _ in range(count - len(items))]
    if kind == "string":
        value = FORMATS.get(str(schema.get("format")), "")
        return value + "a" * max(0, int(schema.get("minLength") or 0) - len(value))
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return False
    return None


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        return "object"
    if kind is None and "items" in schema:
        return "array"
    return str(kind)


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    low, high = schema.get("minimum"), schema.get("maximum")
    exclusive_low, exclusive_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    value: float = 0
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(high, int | float) and value > high:
        value = high
    if isinstance(exclusive_low, int | float) and value <= exclusive_low:
        value = math.floor(exclusive_low) + 1 if integer else exclusive_low + 0.5
    if isinstance(exclusive_high, int | float) and value >= exclusive_high:
        value = math.ceil(exclusive_high) - 1 if integer else exclusive_high - 0.5
    return math.ceil(value) if integer else value


def _resolve(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return {}  # remote references are not fetched
    node = root
    for token in (t.replace("~1", "/").replace("~0", "~") for t in ref[1:].split("/") if t):
        node = node.get(token, {}) if isinstance(node, dict) else {}
    return node

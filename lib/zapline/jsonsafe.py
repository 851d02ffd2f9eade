"""JSON from outside, parsed with a bound on nesting.

``json.loads`` recurses once per nested array or object: a body of 100,000 ``[`` raises
``RecursionError`` (a 500, then a retry that fails the same way). Real payloads nest a dozen
levels at most, so anything deeper than ``max_depth`` is refused as :class:`JSONTooDeep`, a
``ValueError`` like any other malformed JSON: callers that already map ``ValueError`` to "not
JSON" need nothing more.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "JSONTooDeep", "loads_limited"]

MAX_DEPTH = 64


class JSONTooDeep(ValueError):
    def __init__(self, max_depth: int) -> None:
        super().__init__(f"nested deeper than {max_depth} levels")
        self.max_depth = max_depth


def loads_limited(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads(body)``, refusing (``JSONTooDeep``) arrays and objects nested deeper than ``max_depth``."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise JSONTooDeep(max_depth) from None
    if _depth_exceeds(data, max_depth):
        raise JSONTooDeep(max_depth)
    return data


def _depth_exceeds(data: Any, max_depth: int) -> bool:
    # iterative, so that checking cannot recurse either; visits containers only
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False

"""``Upstash-Retry-Delay``: a small arithmetic language, parsed and evaluated without ``eval``.

Grammar (milliseconds out, the variable ``retried`` in)::

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/" | "%") unary)*
    unary := ("-" | "+") unary | atom
    atom  := NUMBER | "retried" | NAME "(" expr ("," expr)* ")" | "(" expr ")"

with the functions QStash documents: ``pow exp sqrt abs floor ceil round min max``.
All arithmetic is in floats, so ``pow(10, 1000)`` overflows instead of building a huge integer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["RetryDelay", "compile_retry_delay"]

MAX_LENGTH = 512
MAX_DEPTH = 64

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z_0-9]*)|(.))")


def _round(x: float) -> float:
    return float(math.floor(x + 0.5))


_FUNCTIONS: dict[str, tuple[int, int, Callable[..., float]]] = {
    # name: (min args, max args, implementation)
    "pow": (2, 2, lambda x, y: math.pow(x, y)),
    "exp": (1, 1, math.exp),
    "sqrt": (1, 1, math.sqrt),
    "abs": (1, 1, abs),
    "floor": (1, 1, lambda x: float(math.floor(x))),
    "ceil": (1, 1, lambda x: float(math.ceil(x))),
    "round": (1, 1, _round),
    "min": (2, 64, min),
    "max": (2, 64, max),
}


@dataclass(frozen=True)
class _Num:
    value: float


@dataclass(frozen=True)
class _Var:
    pass


@dataclass(frozen=True)
class _Neg:
    operand: Node


@dataclass(frozen=True)
class _Bin:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[Node, ...]


Node = _Num | _Var | _Neg | _Bin | _Call


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        for number, name, other in _TOKEN.findall(text):
            if number:
                self.tokens.append(("num", number))
            elif name:
                self.tokens.append(("name", name))
            elif other.strip():
                self.tokens.append(("op", other))
        self.pos = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        kind, value = self.take()
        if kind != "op" or value != op:
            raise ValueError(f"expected {op!r}, found {value!r}")

    def parse(self) -> Node:
        node = self.expr()
        leftover = self.peek()
        if leftover is not None:
            raise ValueError(f"unexpected {leftover[1]!r}")
        return node

    def expr(self) -> Node:
        node = self.term()
        while (token := self.peek()) and token[0] == "op" and token[1] in "+-":
            self.pos += 1
            node = _Bin(token[1], node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (token := self.peek()) and token[0] == "op" and token[1] in "*/%":
            self.pos += 1
            node = _Bin(token[1], node, self.unary())
        return node

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ValueError("expression is nested too deeply")
        try:
            token = self.peek()
            if token and token[0] == "op" and token[1] in "+-":
                self.pos += 1
                operand = self.unary()
                return _Neg(operand) if token[1] == "-" else operand
            return self.atom()
        finally:
            self.depth -= 1

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return _Num(float(value))
        if kind == "name":
            if value == "retried":
                return _Var()
            if value not in _FUNCTIONS:
                raise ValueError(f"unknown name {value!r}: use retried or one of {', '.join(_FUNCTIONS)}")
            self.expect("(")
            args = [self.expr()]
            while (token := self.peek()) and token == ("op", ","):
                self.pos += 1
                args.append(self.expr())
            self.expect(")")
            low, high, _ = _FUNCTIONS[value]
            if not low <= len(args) <= high:
                raise ValueError(f"{value}() takes {low if low == high else f'{low} or more'} arguments")
            return _Call(value, tuple(args))
        if value == "(":
            node = self.expr()
            self.expect(")")
            return node
        raise ValueError(f"unexpected {value!r}")


def _evaluate(node: Node, retried: float) -> float:
    if isinstance(node, _Num):
        return node.value
    if isinstance(node, _Var):
        return retried
    if isinstance(node, _Neg):
        return -_evaluate(node.operand, retried)
    if isinstance(node, _Call):
        return float(_FUNCTIONS[node.name][2](*(_evaluate(a, retried) for a in node.args)))
    left, right = _evaluate(node.left, retried), _evaluate(node.right, retried)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if node.op == "/":
        return left / right
    return math.fmod(left, right)


@dataclass(frozen=True)
class RetryDelay:
    """A compiled ``Upstash-Retry-Delay`` expression."""

    source: str
    tree: Node

    def milliseconds(self, retried: int) -> int | None:
        """The delay before the next attempt; None when the expression cannot be computed."""
        try:
            value = _evaluate(self.tree, float(retried))
        except (ArithmeticError, ValueError):
            return None
        if value != value or value in (math.inf, -math.inf):
            return None
        return max(0, int(value))


@lru_cache(maxsize=256)
def compile_retry_delay(source: str) -> RetryDelay:
    """Parse ``source``; ``ValueError`` with the reason when it is not a valid expression."""
    if not source.strip():
        raise ValueError("empty expression")
    if len(source) > MAX_LENGTH:
        raise ValueError(f"expression longer than {MAX_LENGTH} characters")
    return RetryDelay(source, _Parser(source).parse())

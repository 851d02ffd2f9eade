"""Scripted behaviour: rules that pick a canned answer, a fault or a delay for matching requests.

A rule is ``{"match"?, "answer"?, "fault"?, "delay"?, "times"?}``:

- ``match``: ``endpoint`` (``chat.completions``, ``audio.transcriptions``, ``models``), ``model``,
  ``contains`` (a substring of the last user message's text, or of an audio file's name),
  ``tools`` (whether the request offers tools). Absent keys match anything.
- ``answer``: ``content``, ``tool_calls`` (``[{"name", "arguments": {...} or "...", "id"?}]``),
  ``json`` (any JSON value, sent as the content), ``refusal``, ``finish_reason``, ``text`` (a transcript).
- ``fault``: ``{"status", "retry_after"?, "message"?, "code"?}``: answered as OpenAI's error.
- ``delay``: seconds to wait before answering (a slow model); with nothing else, then the default answer.
- ``times``: how many requests it serves, then it is gone; absent, it stays until removed.

The oldest live rule that matches wins, so ``{"match"?, "queue": [step, ...]}`` (each step an
``answer``/``fault``/``delay`` rule of its own, ``times`` 1) is served in order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENDPOINTS", "Facts", "Rule", "Script", "ScriptError"]

ENDPOINTS = ("chat.completions", "audio.transcriptions", "models")
MAX_DELAY = 600.0
ANSWER_KEYS = {"content", "tool_calls", "json", "refusal", "finish_reason", "text"}
FAULT_KEYS = {"status", "retry_after", "message", "code"}
MATCH_KEYS = {"endpoint", "model", "contains", "tools"}


class ScriptError(ValueError):
    """A rule the stand-in cannot follow; the message says which field."""


@dataclass(frozen=True)
class Facts:
    """What rules match on, taken from one request."""

    endpoint: str
    model: str = ""
    text: str = ""
    tools: bool = False


@dataclass
class Rule:
    id: str
    match: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] | None = None
    fault: dict[str, Any] | None = None
    delay: float = 0.0
    times: int | None = None  # requests it still serves; None: until removed
    used: int = 0

    def matches(self, facts: Facts) -> bool:
        m = self.match
        return (
            m.get("endpoint") in (None, facts.endpoint)
            and m.get("model") in (None, facts.model)
            and (m.get("contains") is None or str(m["contains"]) in facts.text)
            and m.get("tools") in (None, facts.tools)
        )

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "match": self.match, "times": self.times, "used": self.used}
        extra = {"answer": self.answer, "fault": self.fault, "delay": self.delay or None}
        return out | {k: v for k, v in extra.items() if v is not None}


class Script:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self._ids = itertools.count(1)

    def add(self, body: Any) -> list[Rule]:
        """The rules of one ``POST /_sandbox/openai/script`` body, added after the others."""
        if not isinstance(body, dict):
            raise ScriptError("the script must be a JSON object: a rule, {'rules': [...]} or {'queue': [...]}")
        if "rules" in body:
            if set(body) != {"rules"} or not isinstance(body["rules"], list):
                raise ScriptError("rules must be a list of rules, alone in the body")
            rules = [self._rule(raw) for raw in body["rules"]]
        elif "queue" in body:
            steps = body["queue"]
            if not isinstance(steps, list) or not steps or set(body) - {"queue", "match"}:
                raise ScriptError("queue must be a non-empty list of steps, beside an optional match")
            rules = []
            for step in steps:
                if not isinstance(step, dict) or "match" in step or "times" in step:
                    raise ScriptError("a queue step is an object with answer, fault or delay (no match, no times)")
                rules.append(self._rule({**step, "match": body.get("match", {}), "times": 1}))
        else:
            rules = [self._rule(body)]
        self.rules += rules
        return rules

    def _rule(self, raw: Any) -> Rule:
        if not isinstance(raw, dict) or set(raw) - {"match", "answer", "fault", "delay", "times", "id", "used"}:
            raise ScriptError("a rule has only match, answer, fault, delay and times")
        rule = Rule(
            id=str(raw.get("id") or f"rule_{next(self._ids)}"),
            match=_match(raw.get("match", {})),
            answer=_answer(raw["answer"]) if raw.get("answer") is not None else None,
            fault=_fault(raw["fault"]) if raw.get("fault") is not None else None,
            delay=_seconds(raw.get("delay", 0), "delay"),
            times=raw.get("times"),
            used=int(raw.get("used") or 0),
        )
        if rule.answer is None and rule.fault is None and not rule.delay:
            raise ScriptError("a rule needs an answer, a fault or a delay")
        times = rule.times
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ScriptError("times must be a positive integer")
        return rule

    def take(self, facts: Facts) -> Rule | None:
        """The rule that serves this request (counted, and dropped once its times are used)."""
        for rule in self.rules:
            if rule.matches(facts):
                rule.used += 1
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.rules.remove(rule)
                return rule
        return None

    def remove(self, rule_id: str) -> bool:
        kept = [r for r in self.rules if r.id != rule_id]
        found, self.rules = len(kept) != len(self.rules), kept
        return found

    def clear(self) -> None:
        self.rules.clear()

    def to_json(self) -> list[dict[str, Any]]:
        return [rule.to_json() for rule in self.rules]

    def restore(self, saved: list[dict[str, Any]]) -> None:
        """Take back the rules of a previous run (``to_json`` output); new ids continue after theirs."""
        self.rules = [self._rule(raw) for raw in saved]
        numbers = [int(r.id[5:]) for r in self.rules if r.id.startswith("rule_") and r.id[5:].isdigit()]
        self._ids = itertools.count(max(numbers, default=0) + 1)


def _match(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or set(raw) - MATCH_KEYS:
        raise ScriptError(f"match has only {', '.join(sorted(MATCH_KEYS))}")
    if raw.get("endpoint") is not None and raw["endpoint"] not in ENDPOINTS:
        raise ScriptError(f"match.endpoint is one of {', '.join(ENDPOINTS)}")
    if raw.get("tools") is not None and not isinstance(raw["tools"], bool):
        raise ScriptError("match.tools is true or false")
    for key in ("model", "contains"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ScriptError(f"match.{key} is a string")
    return {k: v for k, v in raw.items() if v is not None}


def _answer(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw or set(raw) - ANSWER_KEYS:
        raise ScriptError(f"answer has one or more of {', '.join(sorted(ANSWER_KEYS))}")
    for key in ("content", "refusal", "finish_reason", "text"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ScriptError(f"answer.{key} is a string")
    calls = raw.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list) or not calls:
            raise ScriptError("answer.tool_calls is a non-empty list of {name, arguments, id?}")
        for call in calls:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str) or set(call) - {
                "name", "arguments", "id"
            }:  # fmt: skip
                raise ScriptError("each tool call is {name, arguments (object or string), id?}")
            if not isinstance(call.get("arguments", {}), dict | str):
                raise ScriptError("tool call arguments are an object or a JSON string")
    return dict(raw)


def _fault(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or set(raw) - FAULT_KEYS:
        raise ScriptError(f"fault has {', '.join(sorted(FAULT_KEYS))}")
    status = raw.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise ScriptError("fault.status is an HTTP error status, 400 to 599")
    if raw.get("retry_after") is not None:
        _seconds(raw["retry_after"], "fault.retry_after")
    for key in ("message", "code"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ScriptError(f"fault.{key} is a string")
    return dict(raw)


def _seconds(value: Any, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= MAX_DELAY:
        raise ScriptError(f"{name} is a number of seconds from 0 to {MAX_DELAY:g}")
    return float(value)

"""An organisation with its AI on, its customers, and the OpenAI stand-in's script and log."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conversation_loop import Loop
from tests.support import wait_until

OWNER = "5511999990000"  # the instance's own number (tests/conversation_loop.py)
DEBOUNCE = 30  # seconds; the tests advance QStash's clock past it, so quick messages are never split


class AiLoop(Loop):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.openai = self.sandbox["OPENAI_BASE_URL"].removesuffix("/v1") + "/_sandbox/openai"

    def enable(self, **settings: Any) -> dict[str, Any]:
        body = {"enabled": True, "debounce_seconds": DEBOUNCE, **settings}
        answer = self.operator("PUT", "/ai", json=body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def script(self, rule: dict[str, Any]) -> None:
        answer = httpx.post(f"{self.openai}/script", json=rule, timeout=10)
        assert answer.status_code in (200, 201), answer.text

    def forget_script(self) -> None:
        httpx.delete(f"{self.openai}/script", timeout=10).raise_for_status()

    def seq(self) -> int:
        """The stand-in's last request number: pass as ``since`` to see only what follows."""
        return int(httpx.get(f"{self.openai}/requests", params={"limit": 1}, timeout=10).json()["last_seq"])

    def requests(self, since: int, endpoint: str = "chat.completions") -> list[dict[str, Any]]:
        found = httpx.get(f"{self.openai}/requests", params={"since": since, "endpoint": endpoint}, timeout=10).json()
        items: list[dict[str, Any]] = found["requests"]
        return items

    def prompts_with(self, since: int, text: str) -> list[dict[str, Any]]:
        """The chat requests since ``since`` in which some message holds ``text``."""
        return [r for r in self.requests(since) if any(text in (m.get("text") or "") for m in r.get("messages", []))]

    def ai_messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages(conversation_id) if m.get("author") == "ai"]

    def wait_sent(self, number: str, count: int, what: str) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            sent = self.sent(number)
            return sent if len(sent) >= count else None

        found: list[dict[str, Any]] = wait_until(enough, timeout=30, what=what)
        return found

    def settle(self) -> None:
        """Fire every job that is due, twice over (a job may publish another)."""
        self.advance(DEBOUNCE + 1)
        self.advance(1)

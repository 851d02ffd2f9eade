"""The AI in the dashboard (system Chromium): its answers marked, what it read in a boleto, and the
button that hands a conversation a human took over back to the AI."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tests.ai.boletos import make_linha
from tests.ai.helpers import AiLoop
from tests.dashboard.test_browser import artefacts, open_dashboard
from tests.support import AppProcess, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["artefacts"]  # the screenshots' fixture, shared with test_browser


def test_ai_answers_readings_and_resume(browser: Browser, app: AppProcess, sandbox: dict[str, str],
                                       artefacts: Path) -> None:  # fmt: skip
    from playwright.sync_api import expect

    ai = AiLoop(app, sandbox)
    ai.forget_script()
    ai.enable()
    due = date.today() + timedelta(days=5)
    extraction = {"document_type": "boleto", "summary": "Boleto da mensalidade", "amount": 89.9,
                  "due_date": due.isoformat(), "beneficiary": "Studio Pilates",
                  "linha_digitavel": make_linha(bank="237", amount_cents=8990, due=due, free="3" * 25)}  # fmt: skip
    ai.script({"match": {"endpoint": "chat.completions", "tools": False}, "times": 1, "answer": {"json": extraction}})
    with open_dashboard(browser, app, ai.tenant.api_key) as page:
        number = ai.new_number()
        ai.customer_says(number, "segue o boleto", kind="image")
        page.locator("#conversations li", has_text="segue o boleto").click()
        reading = page.locator("#messages li[data-direction=in] .reading")
        expect(reading).to_contain_text("boleto checked", timeout=15000)
        expect(reading).to_have_attribute("data-boleto", "true")
        ai.settle()
        answer = page.locator("#messages li[data-author=ai]")
        expect(answer).to_be_visible(timeout=15000)
        expect(answer.locator(".meta")).to_have_text("AI ")
        page.screenshot(path=artefacts / "ai-answer.png", full_page=True)

        page.fill("#reply-text", "Oi! Aqui é o Pedro, recebi seu boleto.")
        page.click("#reply button[type=submit]")
        conversation = ai.conversation_of(number)
        wait_until(lambda: ai.operator("GET", f"/conversations/{conversation['id']}").json().get("ai_paused"),
                   what="the AI paused by the reply")  # fmt: skip
        page.locator("#conversations li", has_text="Pedro").click()
        resume = page.locator("#resume-ai")
        expect(resume).to_be_visible(timeout=5000)
        resume.click()
        expect(resume).to_be_hidden(timeout=5000)
        assert ai.operator("GET", f"/conversations/{conversation['id']}").json()["ai_paused"] is None
        page.screenshot(path=artefacts / "ai-resumed.png", full_page=True)

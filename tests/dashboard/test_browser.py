"""The dashboard in headless Chromium (Playwright, the system ``chromium``) against ``zapline serve``.

A customer's message shows live, a reply is typed and sent (the UAZAPI simulator gets it), a paused
lane keeps a reply pending until resumed, an agent sees no owner action, and the layout is one column
at phone width. Screenshots go to the test's tmp_path (printed; ``pytest -s`` shows it).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conversation_loop import Loop
from tests.dashboard.conftest import agent_key
from tests.support import AppProcess, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SENT = re.compile(r"^(sent|delivered|read)")


@contextlib.contextmanager
def open_dashboard(browser: Browser, app: AppProcess, api_key: str, **context: Any) -> Iterator[Page]:
    from playwright.sync_api import expect

    ctx = browser.new_context(**context)
    try:
        page = ctx.new_page()
        page.goto(f"{app.url}/admin")
        page.fill("#key", api_key)
        page.click("#login button[type=submit]")
        expect(page.locator("#app")).to_be_visible(timeout=5000)
        expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=5000)
        assert page.input_value("#key") == ""  # the key is not kept in the page
        yield page
    finally:
        ctx.close()


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    print(f"\ndashboard screenshots: {tmp_path}")
    return tmp_path


def lane_row(loop: Loop, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in loop.operator("GET", "/lanes").json()["lanes"] if r["lane"] == name)
    return found


def sent_texts(loop: Loop, number: str) -> list[str]:
    return [str(s.get("text")) for s in loop.sent(number)]


def test_an_owner_sees_messages_live_replies_and_pauses_a_lane(
    browser: Browser, app: AppProcess, loop: Loop, artefacts: Path
) -> None:
    from playwright.sync_api import expect

    with open_dashboard(browser, app, loop.tenant.api_key) as page:
        number = loop.new_number()
        loop.customer_says(number, "Olá, preciso de ajuda com meu pedido")
        started = time.monotonic()
        row = page.locator("#conversations li", has_text="preciso de ajuda")
        expect(row).to_be_visible(timeout=2000)  # live: the inbox is never reloaded by the test
        print(f"inbound shown after {time.monotonic() - started:.2f}s")
        row.click()
        expect(page.locator("#messages li[data-direction=in]", has_text="preciso de ajuda")).to_be_visible()
        page.screenshot(path=artefacts / "owner-inbox.png", full_page=True)

        page.fill("#reply-text", "Claro! Qual é o número do pedido?")
        page.click("#reply button[type=submit]")
        reply = page.locator("#messages li[data-direction=out]", has_text="Qual é o número do pedido")
        expect(reply.locator(".status")).to_have_text(SENT, timeout=10000)
        wait_until(lambda: "Claro! Qual é o número do pedido?" in sent_texts(loop, number), timeout=10,
                   what="the reply at the UAZAPI simulator")  # fmt: skip
        page.screenshot(path=artefacts / "owner-replied.png", full_page=True)

        realtime = page.locator("#lanes li[data-id=realtime]")
        realtime.locator("button.pause").click()
        expect(realtime).to_have_attribute("data-state", "paused", timeout=5000)
        page.fill("#reply-text", "Um momento, por favor")
        page.click("#reply button[type=submit]")
        held = page.locator("#messages li[data-direction=out]", has_text="Um momento")
        expect(held).to_have_attribute("data-status", "pending", timeout=5000)
        wait_until(lambda: lane_row(loop, "realtime")["backlog"] == 1, timeout=20, what="the reply held by QStash")
        loop.advance(600)  # past every retry QStash would make
        assert "Um momento, por favor" not in sent_texts(loop, number)
        expect(held).to_have_attribute("data-status", "pending")
        page.screenshot(path=artefacts / "owner-lane-paused.png", full_page=True)

        page.locator("#lanes li[data-id=realtime] button.resume").click()
        expect(held.locator(".status")).to_have_text(SENT, timeout=15000)
        expect(page.locator("#lanes li[data-id=realtime]")).to_have_attribute("data-state", "running")
        wait_until(lambda: "Um momento, por favor" in sent_texts(loop, number), timeout=10, what="the held reply")
        assert sent_texts(loop, number).count("Um momento, por favor") == 1
        page.screenshot(path=artefacts / "owner-lane-resumed.png", full_page=True)


def test_an_agent_sees_no_owner_actions(browser: Browser, app: AppProcess, loop: Loop, artefacts: Path) -> None:
    from playwright.sync_api import expect

    number = loop.new_number()
    loop.customer_says(number, "Mensagem para o agente")
    loop.conversation_of(number)
    with open_dashboard(browser, app, agent_key(loop)) as page:
        expect(page.locator("#who")).to_contain_text("agent")
        expect(page.locator("#conversations li", has_text="Mensagem para o agente")).to_be_visible()
        expect(page.locator("#dead-letters")).to_be_visible()
        for owner_only in ("#lanes", "button.pause", "button.resume", "button.retry", "button.delete"):
            assert page.locator(owner_only).count() == 0, owner_only
        status = page.evaluate(
            """async () => {
                const s = await (await fetch("/admin/session")).json();
                const r = await fetch("/api/v1/lanes/pause", {method: "POST", headers: {"X-CSRF-Token": s.csrf_token}});
                return r.status;
            }"""
        )
        assert status == 403  # and the API refuses them anyway
        page.locator("#conversations li", has_text="Mensagem para o agente").click()
        expect(page.locator("#reply")).to_be_visible()
        page.screenshot(path=artefacts / "agent.png", full_page=True)


def test_phone_width_is_one_column(browser: Browser, app: AppProcess, loop: Loop, artefacts: Path) -> None:
    from playwright.sync_api import expect

    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    with open_dashboard(browser, app, loop.tenant.api_key, **phone) as page:
        expect(page.locator("#conversations li").first).to_be_visible()
        boxes = [page.locator(s).bounding_box() for s in ("#inbox", "#conversation", "#ops")]
        assert all(b is not None for b in boxes)
        inbox, conversation, ops = (b for b in boxes if b is not None)
        assert inbox["y"] < conversation["y"] < ops["y"]  # stacked, not side by side
        assert abs(inbox["x"] - conversation["x"]) < 1 and inbox["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        page.screenshot(path=artefacts / "phone.png", full_page=True)

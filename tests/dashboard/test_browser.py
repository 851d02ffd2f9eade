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


def letters(loop: Loop, **params: str) -> list[dict[str, Any]]:
    response = loop.operator("GET", "/dead-letters", params={"limit": "200", **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_an_owner_retries_a_dead_letter_from_the_page(
    browser: Browser, app: AppProcess, loop: Loop, sandbox: dict[str, str], artefacts: Path
) -> None:
    import httpx
    from playwright.sync_api import expect

    with open_dashboard(browser, app, loop.tenant.api_key) as page:
        expect(page.locator("#dl-actions button")).to_have_text(["Retry all", "Clean older than 7 days"])
        number = loop.new_number()
        loop.customer_says(number, "oi, vou esperar")
        conversation = loop.conversation_of(number)
        # UAZAPI refuses every attempt QStash makes (the first and its 3 retries): the send is a dead letter
        fault = {"instance": loop.tenant.token, "status": 429, "count": 4, "retry_after": 0, "endpoint": "/send/text"}
        httpx.post(f"{sandbox['UAZAPI_URL']}/_sandbox/faults", json=fault).raise_for_status()
        reply = loop.reply(conversation["id"], "depois das falhas, pela página")
        letter = wait_until(
            lambda: next((d for d in letters(loop, job="send") if d["dlq_id"] and "429" in d["reason"]), None),
            timeout=60,
            what="the send's dead letter",
        )
        row = page.locator(f"#dead-letters li[data-id='{letter['id']}']")
        expect(row).to_be_visible(timeout=10000)  # live (job.failed): the page is not reloaded
        expect(row).to_contain_text("429")
        assert loop.sent(number) == []
        page.screenshot(path=artefacts / "owner-dead-letter.png", full_page=True)

        row.locator("button.retry").click()
        expect(row).to_have_count(0, timeout=10000)
        sends = wait_until(lambda: loop.sent(number), timeout=30, what="the retried send")
        assert [s["text"] for s in sends] == ["depois das falhas, pela página"]
        wait_until(
            lambda: [
                m for m in loop.messages(conversation["id"]) if m["id"] == reply["id"] and m["status"] != "pending"
            ],
            what="the message to leave pending",
        )
        assert letter["id"] not in [d["id"] for d in letters(loop)]
        assert [s["text"] for s in loop.sent(number)] == ["depois das falhas, pela página"]  # exactly once
        page.screenshot(path=artefacts / "owner-dead-letter-retried.png", full_page=True)


def test_today_shows_the_current_hour_after_a_customer_message(
    browser: Browser, app: AppProcess, loop: Loop, artefacts: Path
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from playwright.sync_api import expect

    zone = ZoneInfo("America/Sao_Paulo")  # the test organisation's timezone (tests/support.py)
    with open_dashboard(browser, app, loop.tenant.api_key) as page:
        expect(page.locator("#today-totals")).to_be_visible()
        before = loop.operator("GET", "/stats/daily").json()["counters"].get("inbound", 0)
        hour = datetime.now(zone).hour
        loop.customer_says(loop.new_number(), "Quantas mensagens hoje?")
        # the page refreshes on the live message.created; the bar (or, before `hourly`, the total) counts it
        expect(page.locator("#today-totals")).to_have_attribute("data-inbound", str(before + 1), timeout=10000)
        answer = loop.operator("GET", "/stats/daily").json()
        if "hourly" in answer:
            hours = {hour, datetime.now(zone).hour}  # the message may have crossed an hour
            bars = [page.locator(f"#today-inbound rect[data-hour='{h}']") for h in sorted(hours)]
            counts = [int(b.get_attribute("data-count") or 0) for b in bars]
            assert sum(counts) >= 1, counts
            assert counts == [answer["hourly"]["inbound"][h] for h in sorted(hours)]
            expect(page.locator("#today-inbound rect")).to_have_count(24)
            expect(page.locator("#today-outbound rect")).to_have_count(24)
        else:  # the answer has no per-hour counts yet: the day's totals only, and no chart
            assert page.locator(".chart").count() == 0
        page.screenshot(path=artefacts / "owner-today.png", full_page=True)


def test_schedules_are_listed_for_an_owner_only(browser: Browser, app: AppProcess, loop: Loop, artefacts: Path) -> None:
    from playwright.sync_api import expect

    with open_dashboard(browser, app, loop.tenant.api_key) as page:
        sweeper = page.locator("#schedules li[data-id=sweeper]")
        expect(sweeper).to_have_attribute("data-scope", "deployment", timeout=5000)
        expect(sweeper.locator(".readonly")).to_have_text("platform admin")
        assert sweeper.locator("button").count() == 0  # read-only: only the platform admin token changes it
        for row in page.locator("#schedules li[data-scope=organisation]").all():
            expect(row.locator("button.run")).to_have_count(1)
            expect(row.locator("button.pause, button.resume")).to_have_count(1)
        page.screenshot(path=artefacts / "owner-schedules.png", full_page=True)
    with open_dashboard(browser, app, agent_key(loop)) as page:
        expect(page.locator("#today-totals")).to_be_visible()
        for owner_only in ("#schedules", "#dl-actions", "#retry-all", "#clean", "input.pick"):
            assert page.locator(owner_only).count() == 0, owner_only
        page.screenshot(path=artefacts / "agent-no-schedules.png", full_page=True)


def test_without_hourly_today_shows_totals_and_organisation_schedules_have_buttons(
    browser: Browser, app: AppProcess, loop: Loop, artefacts: Path
) -> None:
    """The page as before ``hourly`` and with a per-organisation schedule (answers stubbed in the browser)."""
    import json

    from playwright.sync_api import Route, expect

    posted: list[tuple[str, str | None]] = []
    summary = {"name": "daily_summary", "cron": "0 18 * * *", "timezone": "America/Sao_Paulo", "scope": "organisation",
               "job": "summary", "paused": False, "next_run": "2026-11-30T18:00:00-03:00"}  # fmt: skip

    def stats(route: Route) -> None:
        body = {"day": "2026-11-30", "counters": {"inbound": 7, "outbound": 3}, "nps": None}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    def schedules(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps({"schedules": [summary]}))

    def action(route: Route) -> None:
        request = route.request
        posted.append((request.url.split("/api/v1")[1], request.headers.get("x-csrf-token")))
        if not request.url.endswith("/run"):
            summary["paused"] = request.url.endswith("/pause")
        route.fulfill(status=200, content_type="application/json", body=json.dumps({"name": "daily_summary"}))

    with open_dashboard(browser, app, loop.tenant.api_key) as page:
        page.route("**/api/v1/stats/daily", stats)
        page.route("**/api/v1/schedules", schedules)
        page.route("**/api/v1/schedules/daily_summary/*", action)
        page.click("#logout")
        page.fill("#key", loop.tenant.api_key)
        page.click("#login button[type=submit]")
        totals = page.locator("#today-totals")
        expect(totals).to_have_attribute("data-inbound", "7", timeout=5000)
        expect(totals).to_have_text("2026-11-30 · in 7 · out 3")
        assert page.locator(".chart").count() == 0
        row = page.locator("#schedules li[data-id=daily_summary]")
        expect(row).to_have_attribute("data-scope", "organisation", timeout=5000)
        row.locator("button.pause").click()
        expect(row).to_have_attribute("data-paused", "true")
        row.locator("button.resume").click()
        expect(row).to_have_attribute("data-paused", "false")
        row.locator("button.run").click()
        expect(page.locator("#notice")).to_have_text("daily_summary: run now requested.")
        csrf = page.evaluate("async () => (await (await fetch('/admin/session')).json()).csrf_token")
        assert posted == [(f"/schedules/daily_summary/{verb}", csrf) for verb in ("pause", "resume", "run")]
        page.screenshot(path=artefacts / "owner-totals-only.png", full_page=True)


def test_retry_all_and_clean_post_what_the_api_expects(
    browser: Browser, app: AppProcess, loop: Loop, artefacts: Path
) -> None:
    """Retry all: one ``{"job"}`` per kind listed, or the ticked ids; clean: a second click confirms."""
    import json

    from playwright.sync_api import Route, expect

    listed = [{"id": f"d{n}", "job": job, "reason": "x", "retryable": ok} for n, (job, ok) in
              enumerate([("send", True), ("send", True), ("followup", True), ("nps", False)])]  # fmt: skip
    posted: list[tuple[str, Any]] = []

    def listing(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps({"items": listed}))

    def write(route: Route) -> None:
        posted.append((route.request.url.split("/api/v1")[1], route.request.post_data_json))
        body = {"retried": 1, "failed": 0, "results": []} if "retry" in route.request.url else {"deleted": 2}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    with open_dashboard(browser, app, loop.tenant.api_key) as page:
        page.route("**/api/v1/dead-letters?*", listing)
        page.route("**/api/v1/dead-letters/retry", write)
        page.route("**/api/v1/dead-letters/clean", write)
        page.click("#logout")
        page.fill("#key", loop.tenant.api_key)
        page.click("#login button[type=submit]")
        expect(page.locator("#dead-letters li")).to_have_count(4, timeout=5000)
        expect(page.locator("#dead-letters input.pick")).to_have_count(3)  # not the one QStash never had
        page.click("#retry-all")
        expect(page.locator("#notice")).to_have_text("Retried 2.")
        assert posted == [("/dead-letters/retry", {"job": "send"}), ("/dead-letters/retry", {"job": "followup"})]
        loop.customer_says(loop.new_number(), "chegou agora")  # a live event reloads the inbox ...
        expect(page.locator("#conversations")).to_contain_text("chegou agora")
        expect(page.locator("#notice")).to_have_text("Retried 2.")  # ... and leaves the user's notice
        posted.clear()
        page.locator("#dead-letters li[data-id=d1] input.pick").check()
        expect(page.locator("#retry-all")).to_have_text("Retry selected (1)")
        page.click("#retry-all")
        expect(page.locator("#notice")).to_have_text("Retried 1.")
        assert posted == [("/dead-letters/retry", {"dlq_ids": ["d1"]})]
        posted.clear()
        page.click("#clean")
        expect(page.locator("#clean")).to_have_attribute("data-armed", "1")
        assert posted == []  # the first click only asks to confirm
        page.click("#clean")
        expect(page.locator("#notice")).to_have_text("Cleaned 2 dead letter(s) older than 7 days.")
        assert posted == [("/dead-letters/clean", {"older_than_days": 7})]
        page.screenshot(path=artefacts / "owner-dead-letter-actions.png", full_page=True)

"""Fixtures for the dashboard: logging in over HTTP, and headless Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conversation_loop import Loop
from tests.support import AppProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def loop(app: AppProcess, sandbox: dict[str, str]) -> Loop:
    """An organisation whose instance is wired to the UAZAPI simulator (one per test module)."""
    return Loop(app, sandbox)


def agent_key(loop: Loop) -> str:
    """A fresh agent key of ``loop``'s organisation, made with its owner key."""
    response = loop.operator("POST", "/keys", json={"role": "agent", "name": "dashboard test"})
    assert response.status_code == 200, response.text
    key: str = response.json()["api_key"]
    return key


@contextlib.contextmanager
def login(app: AppProcess, api_key: str) -> Iterator[httpx.Client]:
    """An HTTP client holding a dashboard session (its cookie) for ``api_key``."""
    with httpx.Client(base_url=app.url, timeout=10) as client:
        response = client.post("/admin/login", json={"api_key": api_key})
        assert response.status_code == 200, response.text
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system Chromium, headless; skipped (with what to install) when it or Playwright is missing."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("install chromium: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("install playwright: pip install -c constraints.txt -e '.[dev]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield browser
        finally:
            browser.close()

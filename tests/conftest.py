from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import AppProcess, SandboxProcess, Tenant


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The settings printed by one ``zapline sandbox`` started for the whole test session."""
    proc = SandboxProcess(Path(tmp_path_factory.mktemp("sandbox")))
    try:
        yield proc.start()
    finally:
        proc.stop()


@pytest.fixture
def app_env(sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The process environment a deployed function would have, pointing at the sandbox."""
    from zapline.config import get_settings

    env = {**sandbox, "APP_URL": "https://zapline.test"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def app(sandbox: dict[str, str]) -> Iterator[AppProcess]:
    """Every function served over real HTTP (``zapline serve``) against the session sandbox."""
    from zapline.sandbox.redis_server import free_port

    process = AppProcess(sandbox, free_port())
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def tenant(app: AppProcess, sandbox: dict[str, str]) -> Tenant:
    """A fresh organisation and instance per test module (tests inside use distinct contacts)."""
    return Tenant({**sandbox, "APP_URL": app.url})


@pytest.fixture(scope="module")
def logged_app(sandbox: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """Every function over real HTTP, its JSON logs kept in a file the tests read (who did what)."""
    from zapline.sandbox.redis_server import free_port

    process = AppProcess(sandbox, free_port(), log_path=Path(tmp_path_factory.mktemp("logs")) / "app.log")
    try:
        process.start()
        yield process
    finally:
        process.stop()

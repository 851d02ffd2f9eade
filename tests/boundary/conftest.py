from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import AppProcess, Tenant
from zapline.sandbox.redis_server import free_port


@pytest.fixture(scope="module")
def logged_app(sandbox: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """Every function over real HTTP, its JSON logs kept in a file the tests read."""
    process = AppProcess(sandbox, free_port(), log_path=Path(tmp_path_factory.mktemp("logs")) / "app.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def tenant_a(logged_app: AppProcess, sandbox: dict[str, str]) -> Tenant:
    return Tenant({**sandbox, "APP_URL": logged_app.url}, name="A")


@pytest.fixture(scope="module")
def tenant_b(logged_app: AppProcess, sandbox: dict[str, str]) -> Tenant:
    return Tenant({**sandbox, "APP_URL": logged_app.url}, name="B")

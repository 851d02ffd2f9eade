from __future__ import annotations

import pytest

from tests.support import AppProcess, Tenant


@pytest.fixture(scope="module")
def tenant_a(logged_app: AppProcess, sandbox: dict[str, str]) -> Tenant:
    return Tenant({**sandbox, "APP_URL": logged_app.url}, name="A")


@pytest.fixture(scope="module")
def tenant_b(logged_app: AppProcess, sandbox: dict[str, str]) -> Tenant:
    return Tenant({**sandbox, "APP_URL": logged_app.url}, name="B")

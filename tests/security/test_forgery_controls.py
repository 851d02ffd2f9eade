"""The control for the forgery suite: the same targets genuinely signed (current key, then next) get
past the signature check, so the forgery suite's 401s come from the forgeries alone. A module (and
so a stack) of its own: these deliveries may write and publish, the forgery suite's digests must not
see it."""

from __future__ import annotations

import pytest

from tests.security.helpers import Stack
from tests.security.test_forgery import SIGNED_PATHS, target
from tests.support import Tenant, deliver


@pytest.fixture(scope="module")
def tenants(stack: Stack) -> tuple[Tenant, Tenant]:
    return stack.tenant("A"), stack.tenant("B")


@pytest.mark.parametrize("route", SIGNED_PATHS)
def test_the_same_delivery_genuinely_signed_gets_past_the_signature(
    stack: Stack, tenants: tuple[Tenant, Tenant], route: str
) -> None:
    t = target(route, stack, tenants, "conv_000000000000")
    for key in (t.key, t.next_key):
        answer = deliver(t.app_url, t.path, t.body, key=key)
        assert answer.status_code != 401 and answer.status_code < 500, (route, answer.status_code, answer.text)

"""schemathesis against a served API (``zapline serve`` on the sandbox), with an owner key: no answer
is a server error, and every answer's status and body are the ones the OpenAPI document promises."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.support import AppProcess, Tenant, wait_until
from zapline.admin.api import ROUTES
from zapline.admin.openapi import document
from zapline.sandbox.uazapi.payloads import Uazapi, body

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
CONVERSATION_ID = re.compile(r"^conv_[0-9a-f]{12}$")
EXAMPLES = 8  # per operation: ~35 operations x (examples + coverage cases) in well under a minute on 2 cores


@pytest.fixture(scope="module")
def conversation(tenant: Tenant) -> str:
    """A real conversation, so replies, closing and paging answer 200 and their bodies are checked too."""
    raw = body(Uazapi(token=tenant.token).text("oi", contact="5511977770042"))
    accepted = httpx.post(tenant.webhook_url, content=raw, headers={"Content-Type": "application/json"}, timeout=30)
    assert accepted.status_code == 200, accepted.text
    found: list[dict[str, Any]] = wait_until(lambda: tenant.api("/conversations").json()["items"], what="conversation")
    return str(found[0]["id"])


# Every operation is run; none is excluded: each acts on the key's own organisation only, and what it
# changes there (keys created, lanes paused, follow-ups set, the conversation closed) stays in this
# module's fresh tenant. Generated key and dead-letter ids are never real ones, so no key is rotated away.
# Built in-process from ROUTES (test_document checks the served document is this one); pytest 9
# dropped the node attribute schemathesis' lazy ``from_fixture`` loader rewrites, so the schema is eager.
schema = schemathesis.openapi.from_dict(document(tuple(ROUTES)))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_keeps_its_schema(case: schemathesis.Case[Any], app: AppProcess, tenant: Tenant, conversation: str) -> None:
    generated = case.path_parameters.get("conversation_id") if case.path_parameters else None
    if isinstance(generated, str) and CONVERSATION_ID.match(generated) and int(generated[-1], 16) % 2 == 0:
        case.path_parameters["conversation_id"] = conversation  # one valid id for another: half reach a record
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    case.call_and_validate(base_url=app.url, headers=headers, checks=CHECKS, timeout=30)

"""What an inbound webhook shows live, and how a Centrifugo outage is recovered by QStash's retry."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest
from cent import Client as Cent
from cent import HistoryRequest

from tests.live import LiveInbox
from tests.support import AppProcess, Tenant, deliver
from zapline.sandbox.redis_server import free_port
from zapline.sandbox.uazapi.payloads import Uazapi, body, wa_id

_contacts = itertools.count(5511977770001)


def test_a_stored_message_and_its_receipt_show_up_live(app: AppProcess, tenant: Tenant) -> None:
    uazapi = Uazapi(token=tenant.token)
    contact, mid = str(next(_contacts)), wa_id()
    key = app.env["QSTASH_CURRENT_SIGNING_KEY"]

    async def scenario() -> None:
        async with LiveInbox(app.url, tenant.api_key) as inbox:
            assert inbox.channels == [f"inbox:{tenant.org_id}"]
            raw = body(uazapi.text("ao vivo 📡", contact=contact, message_id=mid, from_me=True))
            response = await asyncio.to_thread(deliver, app.url, tenant.inbound_path, raw, key=key)
            assert response.status_code == 200
            channel, data = await inbox.expect(lambda ch, d: d.get("message", {}).get("wa_id") == mid)
            assert channel == f"inbox:{tenant.org_id}"
            assert data["type"] == "message.created"
            assert data["message"]["text"] == "ao vivo 📡"
            assert data["conversation"]["lead_id"]

            raw = body(uazapi.receipt([mid], "Read", contact=contact))
            await asyncio.to_thread(deliver, app.url, tenant.inbound_path, raw, key=key)
            _, status = await inbox.expect(lambda ch, d: d.get("type") == "message.status")
            assert status["status"] == "read" and status["messages"][0]["wa_id"] == mid

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def app_without_centrifugo(sandbox: dict[str, str]) -> Iterator[AppProcess]:
    """The same functions, configured with a Centrifugo that refuses connections."""
    dead = free_port()
    process = AppProcess({**sandbox, "CENTRIFUGO_API_URL": f"http://127.0.0.1:{dead}/api"}, free_port())
    process.start()
    yield process
    process.stop()


def test_centrifugo_down_answers_503_and_the_retry_publishes_once(
    app: AppProcess, app_without_centrifugo: AppProcess, tenant: Tenant, sandbox: dict[str, str]
) -> None:
    contact, mid = str(next(_contacts)), wa_id()
    raw = body(Uazapi(token=tenant.token).text("durante a queda", contact=contact, message_id=mid))
    key = app.env["QSTASH_CURRENT_SIGNING_KEY"]
    # The outage: the message is stored, the answer is 503 so that QStash retries.
    down = app_without_centrifugo
    first = deliver(down.url, tenant.inbound_path, raw, key=key, message_id="msg_outage")
    assert first.status_code == 503
    assert first.json()["error_type"] == "realtime_unavailable"
    assert tenant.api("/leads", phone=f"+{contact}").status_code == 200

    # QStash's retries reach a healthy function: storage is a no-op, the publication happens once.
    for retried in (1, 2):
        again = deliver(app.url, tenant.inbound_path, raw, key=key, message_id="msg_outage", retried=retried)
        assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    conversation_id = again.json().get("conversation_id") or next(
        c["id"] for c in tenant.api("/conversations", limit="200").json()["items"] if c["preview"] == "durante a queda"
    )
    with Cent(sandbox["CENTRIFUGO_API_URL"], sandbox["CENTRIFUGO_API_KEY"]) as cent:
        history = cent.history(HistoryRequest(channel=f"conversation:{tenant.org_id}:{conversation_id}", limit=-1))
    published = [p.data for p in history.publications if p.data.get("message", {}).get("wa_id") == mid]
    assert len(published) == 1

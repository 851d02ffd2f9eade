"""The inbound function over real HTTP, with deliveries signed as QStash signs them."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support import AppProcess, Tenant, deliver, qstash_signature
from zapline.sandbox.uazapi.payloads import Uazapi, body, wa_id

_contacts = itertools.count(5511988880001)


@pytest.fixture
def contact() -> str:
    """A phone number no other test in this module uses."""
    return str(next(_contacts))


@pytest.fixture
def uazapi(tenant: Tenant) -> Uazapi:
    return Uazapi(token=tenant.token)


def send(app: AppProcess, tenant: Tenant, payload: dict[str, Any] | bytes, **kw: Any) -> httpx.Response:
    raw = payload if isinstance(payload, bytes) else body(payload)
    return deliver(app.url, tenant.inbound_path, raw, key=app.env["QSTASH_CURRENT_SIGNING_KEY"], **kw)


def lead_messages(tenant: Tenant, phone: str) -> list[dict[str, Any]]:
    lead = tenant.api("/leads", phone=phone)
    if lead.status_code == 404:
        return []
    conversations = tenant.api("/conversations", limit="200").json()["items"]
    ids = [c["id"] for c in conversations if c["lead_id"] == lead.json()["id"]]
    out: list[dict[str, Any]] = []
    for conv_id in ids:
        out += tenant.api(f"/conversations/{conv_id}/messages", limit="200").json()["items"]
    return out


def test_text_message_is_stored_with_lead_and_conversation(
    app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str
) -> None:
    response = send(app, tenant, uazapi.text("Oi, quero um orçamento 😀", contact=contact, name="Ana Souza"))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "stored"

    lead = tenant.api("/leads", phone=f"+{contact}").json()
    assert (lead["phone"], lead["name"]) == (f"+{contact}", "Ana Souza")
    assert tenant.api(f"/leads/{lead['id']}").json()["id"] == lead["id"]
    [conv] = [c for c in tenant.api("/conversations").json()["items"] if c["lead_id"] == lead["id"]]
    assert (conv["status"], conv["unread"], conv["message_count"], conv["title"]) == ("open", 1, 1, "Ana Souza")
    assert tenant.api(f"/conversations/{conv['id']}").json()["preview"] == "Oi, quero um orçamento 😀"
    [message] = tenant.api(f"/conversations/{conv['id']}/messages").json()["items"]
    assert (message["direction"], message["kind"], message["text"], message["status"]) == (
        "in", "text", "Oi, quero um orçamento 😀", "received",
    )  # fmt: skip


def test_the_same_webhook_five_times_stores_one_message(
    app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str
) -> None:
    payload = uazapi.text("repetido", contact=contact)
    outcomes = [send(app, tenant, payload).json()["outcome"] for _ in range(5)]
    assert outcomes == ["stored"] + ["duplicate"] * 4
    assert [m["text"] for m in lead_messages(tenant, f"+{contact}")] == ["repetido"]


def test_a_qstash_retry_of_a_stored_message_changes_nothing(
    app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str
) -> None:
    payload = uazapi.text("uma vez", contact=contact)
    assert send(app, tenant, payload, message_id="msg_same").json()["outcome"] == "stored"
    again = send(app, tenant, payload, message_id="msg_same", retried=1)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert len(lead_messages(tenant, f"+{contact}")) == 1


@pytest.mark.parametrize("case", ["forged", "expired", "tampered", "wrong_url", "missing", "next_key"])
def test_bad_signatures_store_nothing(app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str, case: str) -> None:
    raw = body(uazapi.text("assinatura", contact=contact))
    url = f"{app.url}{tenant.inbound_path}"
    key = app.env["QSTASH_CURRENT_SIGNING_KEY"]
    signature = {
        "forged": qstash_signature(url, raw, "sig_7AttackerAttackerAttacker0000"),
        "expired": qstash_signature(url, raw, key, iat=int(time.time()) - 600, exp=int(time.time()) - 300),
        "tampered": qstash_signature(url, raw.replace(b"assinatura", b"adulterada"), key),
        "wrong_url": qstash_signature(url.replace("/uazapi/", "/uazapi/x"), raw, key),
        "missing": "",
        "next_key": qstash_signature(url, raw, app.env["QSTASH_NEXT_SIGNING_KEY"]),
    }[case]
    response = send(app, tenant, raw, signature=signature)
    if case == "next_key":  # signed with the next key during a rotation: accepted
        assert response.status_code == 200
        return
    assert response.status_code == 401
    assert response.json()["error_type"] == "invalid_signature"
    assert tenant.api("/leads", phone=f"+{contact}").status_code == 404


@pytest.mark.parametrize(
    ("payload", "error_type"),
    [
        (b"{not json", "invalid_payload"),
        (b'{"EventType": "messages", "token": "x"}', "invalid_payload"),
        (b'{"EventType": "messages_update", "token": "x"}', "invalid_payload"),
    ],
)
def test_malformed_payloads_are_not_retried(app: AppProcess, tenant: Tenant, payload: bytes, error_type: str) -> None:
    response = send(app, tenant, payload)
    assert response.status_code == 489
    assert response.headers["Upstash-NonRetryable-Error"] == "true"
    assert response.json()["error_type"] == error_type
    assert response.json()["error"]


def test_oversized_payload_is_refused_with_a_reason(app: AppProcess, tenant: Tenant, uazapi: Uazapi) -> None:
    payload = uazapi.text("x" * (600 * 1024))
    response = send(app, tenant, payload)
    assert response.status_code == 489
    assert response.json()["error_type"] == "payload_too_large"


def test_unknown_instance_or_wrong_token_is_not_retried(app: AppProcess, tenant: Tenant, contact: str) -> None:
    wrong_token = Uazapi(token="not-the-instance-token").text("oi", contact=contact)
    response = send(app, tenant, wrong_token)
    assert (response.status_code, response.json()["error_type"]) == (489, "unknown_instance")

    org, inst, _ = tenant.instance_key.split(".")
    for key in (f"{org}.{inst}.{'A' * 32}", "garbage"):
        path = f"/api/inbound/uazapi/{key}"
        raw = body(Uazapi(token=tenant.token).text("oi", contact=contact))
        response = deliver(app.url, path, raw, key=app.env["QSTASH_CURRENT_SIGNING_KEY"])
        assert (response.status_code, response.json()["error_type"]) == (489, "unknown_instance")
    assert tenant.api("/leads", phone=f"+{contact}").status_code == 404


def test_receipt_before_its_message_is_applied_when_it_arrives(
    app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str
) -> None:
    mid = wa_id()
    early = send(app, tenant, uazapi.receipt([mid], "Delivered", contact=contact))
    assert early.json() == {"status": "ok", "outcome": "receipts", "changed": 0}
    send(app, tenant, uazapi.text("enviado pelo celular", contact=contact, from_me=True, message_id=mid))
    [message] = lead_messages(tenant, f"+{contact}")
    assert (message["direction"], message["status"]) == ("out", "delivered")

    send(app, tenant, uazapi.receipt([mid], "Read", contact=contact, stringly=False))
    send(app, tenant, uazapi.receipt([mid], "Delivered", contact=contact))  # late: never moves back
    assert lead_messages(tenant, f"+{contact}")[0]["status"] == "read"


def test_edits_reactions_and_deletions_change_their_target(
    app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str
) -> None:
    original = wa_id()
    send(app, tenant, uazapi.text("quero 2 unidades", contact=contact, message_id=original))
    assert (
        send(app, tenant, uazapi.edited(original, "quero 3 unidades", contact=contact)).json()["outcome"] == "updated"
    )
    send(app, tenant, uazapi.reaction(original, "👍", contact=contact, from_me=True))
    [message] = lead_messages(tenant, f"+{contact}")
    assert message["text"] == "quero 3 unidades"
    assert message["edits"][0]["text"] == "quero 2 unidades"
    assert message["reactions"] == {"me": "👍"}

    send(app, tenant, uazapi.deleted(original, contact=contact))
    [message] = lead_messages(tenant, f"+{contact}")
    assert message["deleted"] is True


@pytest.mark.parametrize(
    ("builder", "kind"),
    [("image", "image"), ("audio", "audio"), ("video", "video"), ("document", "document"), ("sticker", "sticker"),
     ("location", "location"), ("contact_card", "contact"), ("extended_text", "text")],
)  # fmt: skip
def test_every_message_kind_is_stored(
    app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str, builder: str, kind: str
) -> None:
    assert send(app, tenant, getattr(uazapi, builder)(contact=contact)).status_code == 200
    [message] = lead_messages(tenant, f"+{contact}")
    assert message["kind"] == kind
    if kind != "text":
        assert message["media"]


def test_group_messages_have_a_conversation_but_no_lead(app: AppProcess, tenant: Tenant, uazapi: Uazapi) -> None:
    group = f"1203630000{next(_contacts)}"
    response = send(app, tenant, uazapi.text("Bom dia, grupo", group=group, name="Clientes VIP"))
    assert response.json()["outcome"] == "stored"
    [conv] = [c for c in tenant.api("/conversations", limit="200").json()["items"] if c["chat_jid"] == f"{group}@g.us"]
    assert (conv["is_group"], conv["lead_id"], conv["title"]) == (True, None, "Clientes VIP")
    [message] = tenant.api(f"/conversations/{conv['id']}/messages").json()["items"]
    assert (message["sender_phone"], message["sender_name"]) == ("+5511999990002", "Bruno Lima")


def test_parallel_deliveries_keep_whatsapp_order(app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str) -> None:
    start = int(time.time() * 1000)
    payloads = [uazapi.text(f"parte {i}", contact=contact, timestamp=start + i * 1000) for i in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda p: send(app, tenant, p).status_code, reversed(payloads)))
    assert statuses == [200] * 12
    assert [m["text"] for m in lead_messages(tenant, f"+{contact}")] == [f"parte {i}" for i in range(12)]
    [conv] = [c for c in tenant.api("/conversations", limit="200").json()["items"] if c["preview"] == "parte 11"]
    assert conv["message_count"] == 12 and conv["unread"] == 12


def test_connection_and_unknown_events_are_acknowledged(app: AppProcess, tenant: Tenant, uazapi: Uazapi) -> None:
    assert send(app, tenant, uazapi.connection("disconnected")).json()["outcome"] == "connection"
    unknown = send(app, tenant, uazapi.unknown("presence"))
    assert (unknown.status_code, unknown.json()["outcome"]) == (200, "ignored")


def test_read_api_pages_and_is_scoped_to_its_organisation(
    app: AppProcess, tenant: Tenant, uazapi: Uazapi, sandbox: dict[str, str]
) -> None:
    base = next(_contacts)
    for i in range(5):
        send(app, tenant, uazapi.text(f"lead {i}", contact=str(base + 1000 + i)))
    seen: list[str] = []
    cursor = ""
    while True:
        page = tenant.api("/conversations", limit="2", **({"cursor": cursor} if cursor else {})).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 5
    everything = [c["id"] for c in tenant.api("/conversations", limit="200").json()["items"]]
    assert seen == everything  # same order, nothing skipped or repeated

    other = Tenant({**sandbox, "APP_URL": app.url}, name="Other")
    assert other.api("/conversations").json()["items"] == []
    assert other.api(f"/conversations/{seen[0]}").status_code == 404
    assert other.api("/leads", phone=f"+{base + 1000}").status_code == 404
    assert tenant.api("/conversations", limit="0").status_code == 400
    unauthenticated = httpx.get(f"{app.url}/api/v1/conversations", headers={"Authorization": "Bearer zk_nope"})
    assert unauthenticated.status_code == 401


def test_a_long_accented_preview_is_cut_on_a_character_boundary(
    app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str
) -> None:
    text = "a" * 159 + "ção e mais coisas 😀" * 3
    payload = uazapi.text(text, contact=contact)
    assert send(app, tenant, payload).json()["outcome"] == "stored"
    assert send(app, tenant, payload).json()["outcome"] == "duplicate"  # reads the conversation back
    [conv] = [
        c for c in tenant.api("/conversations", limit="200").json()["items"] if c["preview"].startswith("a" * 159)
    ]
    assert conv["preview"] == "a" * 159  # the 2-byte "ç" did not fit in 160 bytes: not split
    assert lead_messages(tenant, f"+{contact}")[0]["text"] == text


def test_an_edit_or_reaction_before_its_message_waits_for_it(
    app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str
) -> None:
    original = wa_id()
    assert send(app, tenant, uazapi.edited(original, "texto novo", contact=contact)).json()["outcome"] == "parked"
    send(app, tenant, uazapi.reaction(original, "🔥", contact=contact, from_me=True))
    send(app, tenant, uazapi.text("texto velho", contact=contact, message_id=original))
    [message] = lead_messages(tenant, f"+{contact}")
    assert message["text"] == "texto novo" and message["edits"][0]["text"] == "texto velho"
    assert message["reactions"] == {"me": "🔥"}


def test_a_lead_known_by_phone_learns_its_lid(app: AppProcess, tenant: Tenant, uazapi: Uazapi, contact: str) -> None:
    first = uazapi.text("sem LID", contact=contact)
    lid = first["message"].pop("chatlid")
    first["chat"]["wa_chatlid"] = ""
    send(app, tenant, first)  # the lead exists by phone only
    send(app, tenant, uazapi.text("com LID", contact=contact))  # phone and LID together
    later = uazapi.text("só pelo LID", contact=contact)
    later["message"].update({"chatid": lid, "sender_pn": ""})
    later["chat"].update({"wa_chatid": lid, "phone": ""})
    send(app, tenant, later)
    lead = tenant.api("/leads", phone=f"+{contact}").json()
    assert lead["lid"] == lid
    texts = sorted(m["text"] for m in lead_messages(tenant, f"+{contact}"))
    assert texts == ["com LID", "sem LID", "só pelo LID"]  # one lead, whichever id WhatsApp used

"""Locations, list answers, edits and the instance's own chat, stored and shown as they should be."""

from __future__ import annotations

from tests.inbound.conftest import Inbound
from zapline.sandbox.uazapi.payloads import wa_id


def test_a_location_keeps_name_address_and_url_and_previews_them(inbound: Inbound, contact: str) -> None:
    payload = inbound.uazapi.location(contact=contact)
    payload["message"]["content"].update(
        name="Padaria Real", address="Rua Augusta, 100", URL="https://padariareal.example"
    )
    inbound.stored(payload)
    conv = inbound.conversation(f"{contact}@s.whatsapp.net")
    assert conv["preview"] == "Padaria Real\nRua Augusta, 100"
    [message] = inbound.messages(conv["id"])
    assert (message["kind"], message["text"]) == ("location", "Padaria Real\nRua Augusta, 100")
    media = message["media"]
    assert (media["name"], media["address"], media["url"]) == (
        "Padaria Real", "Rua Augusta, 100", "https://padariareal.example",
    )  # fmt: skip


def test_a_list_response_stores_the_chosen_title_and_description(inbound: Inbound, contact: str) -> None:
    menu = wa_id()
    inbound.stored(inbound.uazapi.text("Escolha um plano", contact=contact, from_me=True, message_id=menu))
    payload = inbound.uazapi.list_response(menu, "Plano Premium", row_id="row-2", contact=contact)
    payload["message"]["text"] = ""  # UAZAPI's: the choice is in vote and content only
    payload["message"]["content"]["description"] = "R$ 99/mês"
    inbound.stored(payload)
    conv = inbound.conversation(f"{contact}@s.whatsapp.net")
    answer = inbound.messages(conv["id"])[-1]
    assert (answer["kind"], answer["text"], answer["vote"], answer["option_id"]) == (
        "list_response", "Plano Premium\nR$ 99/mês", "Plano Premium", "row-2",
    )  # fmt: skip
    assert conv["preview"] == "Plano Premium\nR$ 99/mês"


def test_an_edit_of_the_latest_message_updates_the_preview(inbound: Inbound, contact: str) -> None:
    first, latest = wa_id(), wa_id()
    inbound.stored(inbound.uazapi.text("primeira", contact=contact, message_id=first))
    inbound.stored(inbound.uazapi.text("quero 2 unidades", contact=contact, message_id=latest))
    assert inbound.stored(inbound.uazapi.edited(latest, "quero 3 unidades", contact=contact))["outcome"] == "updated"
    conv = inbound.conversation(f"{contact}@s.whatsapp.net")
    assert conv["preview"] == "quero 3 unidades"
    inbound.stored(inbound.uazapi.edited(first, "primeira, editada", contact=contact))  # not the latest
    assert inbound.conversation(f"{contact}@s.whatsapp.net")["preview"] == "quero 3 unidades"


def test_the_instances_own_chat_is_not_a_lead_nor_a_conversation_nor_counted(fresh: Inbound) -> None:
    owner = fresh.uazapi.owner
    day = fresh.get("/stats/daily")["day"]
    before = fresh.counters(day)
    for from_me in (True, False):
        answer = fresh.stored(fresh.uazapi.text("lembrete: ligar pro fornecedor", contact=owner, from_me=from_me))
        assert answer == {"status": "ok", "outcome": "self_chat"}
    receipt = fresh.stored(fresh.uazapi.receipt([wa_id()], "Read", contact=owner))
    assert receipt["outcome"] == "self_chat"
    assert fresh.tenant.api("/leads", phone=f"+{owner}").status_code == 404
    assert fresh.get("/conversations")["items"] == []
    assert fresh.counters(day) == before
    wrong_token = fresh.send(type(fresh.uazapi)(token="not-the-token").text("x", contact=owner, from_me=True))
    assert (wrong_token.status_code, wrong_token.json()["error_type"]) == (489, "unknown_instance")


def test_a_conversation_without_a_title_is_published_with_a_null_title(inbound: Inbound, contact: str) -> None:
    for text in ("sem nome", "ainda sem nome"):
        payload = inbound.uazapi.text(text, contact=contact, name="")
        payload["message"]["senderName"] = ""
        inbound.stored(payload)
    conv = inbound.conversation(f"{contact}@s.whatsapp.net")
    assert conv["title"] is None
    published = inbound.history(f"conversation:{inbound.tenant.org_id}:{conv['id']}")
    titles = [p["conversation"].get("title") for p in published if p["type"] == "message.created"]
    assert titles == [None, None]  # was false for the second: a missing hash field is false in Lua

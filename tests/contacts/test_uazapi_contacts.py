"""The simulator's chat and label reads against the spec's shapes, the Chat objects as the sync reads
them (written by hand from the spec and a real capture), and the schedule's place in the tick."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from zapline.registry.schedules import SCHEDULES, plan_tick
from zapline.uazapi.contacts import parse_chat


def uazapi(sandbox: dict[str, str], method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{sandbox['UAZAPI_URL']}{path}", headers={"token": token}, timeout=30, **kw)


def test_chat_find_pages_chats_with_names_pictures_and_labels(sandbox: dict[str, str]) -> None:
    token = f"sim-{secrets.token_hex(8)}"
    httpx.post(f"{sandbox['UAZAPI_URL']}/_sandbox/instances", json={"token": token}).raise_for_status()
    contacts = [{"number": f"55119333300{i:02d}", "name": f"Push {i}", "agenda_name": f"Agenda {i}" if i % 2 else "",
                 "picture": f"https://pps.whatsapp.net/v/{i}.jpg", "labels": ["VIP"] if i < 3 else []}
                for i in range(7)]  # fmt: skip
    made = httpx.post(f"{sandbox['UAZAPI_URL']}/_sandbox/contacts", json={"instance": token, "contacts": contacts})
    assert made.json() == {"contacts": 7, "labels": {"VIP": "1"}}

    body = {"operator": "AND", "sort": "+wa_chatid", "limit": 5, "offset": 5, "wa_isGroup": False}
    page = uazapi(sandbox, "POST", "/chat/find", token, json=body).json()
    assert page["pagination"] == {"totalRecords": 7, "pageSize": 5, "currentPage": 2, "totalPages": 2}
    assert [c["wa_chatid"] for c in page["chats"]] == ["5511933330005@s.whatsapp.net", "5511933330006@s.whatsapp.net"]
    first = uazapi(sandbox, "POST", "/chat/find", token, json={**body, "offset": 0}).json()["chats"][1]
    assert (first["wa_contactName"], first["wa_name"], first["name"], first["image"], first["wa_label"]) == (
        "Agenda 1", "Push 1", "Agenda 1", "https://pps.whatsapp.net/v/1.jpg", ["1"])  # fmt: skip
    named = uazapi(sandbox, "POST", "/chat/find", token, json={"wa_contactName": "~agenda"}).json()
    assert named["pagination"]["totalRecords"] == 3
    assert uazapi(sandbox, "POST", "/chat/find", token, json={"wa_isGroup": True}).json()["chats"] == []
    (label,) = uazapi(sandbox, "GET", "/labels", token).json()
    assert label.pop("createdAt") > 0 and label == {"id": "1", "name": "VIP", "color": 1, "colorHex": "#64c4ff"}
    details = uazapi(sandbox, "POST", "/chat/details", token, json={"number": "5511933330002", "preview": True}).json()
    assert (details["image"], details["imagePreview"]) == ("", "https://pps.whatsapp.net/v/2.jpg?preview=1")
    assert uazapi(sandbox, "POST", "/chat/find", "wrong-token", json=body).status_code == 401
    assert uazapi(sandbox, "POST", "/chat/find", token, json={"limit": -1}).json() == {
        "error": "Invalid limit: must be a whole number >= 0"}  # fmt: skip

    fault = {"instance": token, "status": 500, "endpoint": "/chat/find", "offset": 5}
    httpx.post(f"{sandbox['UAZAPI_URL']}/_sandbox/faults", json=fault).raise_for_status()
    assert uazapi(sandbox, "POST", "/chat/find", token, json={**body, "offset": 0}).status_code == 200
    assert uazapi(sandbox, "POST", "/chat/find", token, json=body).status_code == 500  # only that page
    assert uazapi(sandbox, "POST", "/chat/find", token, json=body).status_code == 200
    bad = httpx.post(f"{sandbox['UAZAPI_URL']}/_sandbox/faults", json={**fault, "endpoint": "/send/text"})
    assert bad.status_code == 400


def test_chats_become_contacts_as_the_spec_and_real_traffic_write_them() -> None:
    spec = {"id": "r1a2b3c4d5e6f7", "wa_chatid": "5511999999999@s.whatsapp.net", "wa_name": "João Silva",
            "name": "João Silva", "wa_contactName": "", "image": "https://pps.whatsapp.net/v/t61/1.jpg",
            "wa_label": '["10","20"]', "wa_isGroup": False}  # fmt: skip
    contact = parse_chat(spec)
    assert contact is not None
    assert (contact.phone, contact.name, contact.picture) == ("+5511999999999", "João Silva", spec["image"])
    assert contact.labels({"10": "Cliente", "20": "Pago"}) == ["Cliente", "Pago"]
    real = {"wa_chatid": "551199990001@s.whatsapp.net", "wa_chatlid": "100000000000001@lid",
            "wa_contactName": "Ana", "wa_name": "Ana Souza", "image": "",
            "imagePreview": "https://pps.whatsapp.net/p.jpg", "wa_label": []}  # fmt: skip
    contact = parse_chat(real)
    assert contact is not None
    assert (contact.phone, contact.lid, contact.name, contact.picture, contact.label_ids) == (
        "+5511999990001", "100000000000001@lid", "Ana", "https://pps.whatsapp.net/p.jpg", ())  # fmt: skip
    lid_only = parse_chat({"wa_chatid": "100000000000002@lid", "name": "  Bia  "})
    assert lid_only is not None
    assert (lid_only.jid, lid_only.phone, lid_only.name) == ("100000000000002@lid", None, "Bia")
    for not_a_contact in ({"wa_chatid": "120363000000000001@g.us"}, {"wa_chatid": "status@broadcast"},
                          {"wa_chatid": "5511999999999@s.whatsapp.net", "wa_isGroup": True}, {"wa_chatid": ""},
                          {"wa_chatid": 5}):  # fmt: skip
        assert parse_chat(not_a_contact) is None
    once, again = parse_chat(spec), parse_chat(dict(spec))
    assert once is not None and again is not None
    assert once.digest(["Cliente"]) == again.digest(["Cliente"]) != once.digest(["Pago"])


def test_the_sync_fires_every_six_local_hours_through_the_tick() -> None:
    (sync,) = [s for s in SCHEDULES if s.name == "contact-sync"]
    start = datetime(2026, 1, 15, tzinfo=UTC)
    planned = [p for h in range(24) for p in plan_tick([sync], {"org_0000000001": "America/Sao_Paulo"},
                                                        start + timedelta(hours=h))]  # fmt: skip
    assert [p.local_time[11:] for p in planned] == ["00:00", "06:00", "12:00", "18:00"]
    assert {datetime.fromtimestamp(p.not_before, UTC).hour for p in planned} == {3, 9, 15, 21}


def test_a_restarted_simulator_keeps_its_contacts_and_labels(sandbox: dict[str, str]) -> None:
    from tests.sandbox.test_uazapi_restart import _free_port, simulator

    options = {"instance_token": f"uaz-default-{secrets.token_hex(8)}", "redis_url": f"{sandbox['REDIS_URL']}/8"}
    token, port = f"sim-{secrets.token_hex(8)}", _free_port()
    contact = {"number": "5511922220001", "name": "Ana", "agenda_name": "Ana Souza",
               "picture": "https://pps.whatsapp.net/v/a.jpg", "labels": ["VIP", "Pago"]}  # fmt: skip
    with simulator(options, port) as url:
        httpx.post(f"{url}/_sandbox/instances", json={"token": token}).raise_for_status()
        httpx.post(f"{url}/_sandbox/contacts", json={"instance": token, "contacts": [contact]}).raise_for_status()
        before = uazapi({"UAZAPI_URL": url}, "POST", "/chat/find", token, json={}).json()
        labels = uazapi({"UAZAPI_URL": url}, "GET", "/labels", token).json()
    with simulator(options, port) as url:
        assert uazapi({"UAZAPI_URL": url}, "POST", "/chat/find", token, json={}).json() == before
        assert uazapi({"UAZAPI_URL": url}, "GET", "/labels", token).json() == labels
    (chat,) = before["chats"]
    assert (chat["wa_name"], chat["wa_contactName"], chat["image"], chat["wa_label"]) == (
        "Ana", "Ana Souza", "https://pps.whatsapp.net/v/a.jpg", ["1", "2"])  # fmt: skip

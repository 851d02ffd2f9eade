"""``zapline watch``: an organisation's live updates, one readable line each (a terminal inbox)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

__all__ = ["describe", "watch"]


SHOWN_CHARS = 200  # of a message's text: a terminal line, not the whole message


def describe(channel: str, data: dict[str, Any]) -> str:
    kind = data.get("type", "?")
    if kind in ("message.created", "message.updated"):
        message, conversation = data.get("message", {}), data.get("conversation", {})
        arrow = "←" if message.get("direction") == "in" else "→"
        who = conversation.get("title") or conversation.get("id") or message.get("conversation_id", "")
        text = " ".join(str(message.get("text") or "").split()) or f"[{message.get('kind')}]"
        if kind == "message.updated":  # its text was printed when it was created: say what changed
            return f"{kind:16} {arrow} {who}: {message.get('id', '?')} is {message.get('status')}"
        shown = text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"
        return f"{kind:16} {arrow} {who}: {shown}  ({message.get('status')})"
    if kind == "message.status":
        ids = ", ".join(m.get("wa_id", "?")[:10] for m in data.get("messages", []))
        return f"{kind:16} {data.get('status')}: {ids}"
    return f"{kind:16} {json.dumps(data, ensure_ascii=False)[:160]}"


async def watch(app_url: str, api_key: str) -> None:
    from centrifuge import Client, ClientEventHandler, ConnectedContext, ServerPublicationContext

    async with httpx.AsyncClient() as http:
        grant = await http.post(f"{app_url}/api/v1/realtime/token", headers={"Authorization": f"Bearer {api_key}"})
    if grant.status_code != 200:
        raise SystemExit(f"zapline: the API refused a realtime token: HTTP {grant.status_code} {grant.text}")

    class Printer(ClientEventHandler):  # type: ignore[misc]
        async def on_connected(self, ctx: ConnectedContext) -> None:
            print(f"watching {', '.join(grant.json()['channels'])} (Ctrl-C stops)", flush=True)

        async def on_publication(self, ctx: ServerPublicationContext) -> None:
            stamp = time.strftime("%H:%M:%S")
            print(f"{stamp} {describe(ctx.channel, ctx.pub.data)}", flush=True)

    client = Client(grant.json()["url"], events=Printer(), token=grant.json()["token"], proxy=None)
    await client.connect()
    try:
        await asyncio.Event().wait()
    finally:
        await client.disconnect()

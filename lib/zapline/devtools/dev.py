"""``zapline dev``: the sandbox, a demo organisation, and every function on one local port.

It prints the settings as one JSON line on stdout (the sandbox's, plus ``APP_URL``), writes them to
``<data-dir>/dev.env`` for the other ``zapline`` commands, registers a demo organisation and
instance (once per data dir), and shows on stderr a ready-to-run curl that sends a sample webhook
through the relay and the sandbox QStash, and how to watch it arrive. The functions' logs go to
``<data-dir>/zapline.log``; only warnings and errors reach the terminal, below those instructions.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from zapline.devtools.devserver import serve
from zapline.devtools.signals import Shutdown
from zapline.logs import configure
from zapline.sandbox.redis_server import free_port
from zapline.sandbox.supervisor import Sandbox

__all__ = ["run_dev"]

DEMO_CONTACT = "5511999990001"


async def _demo(settings: dict[str, str], saved: dict[str, Any] | None, token: str) -> dict[str, Any]:
    """The demo organisation and instance: the saved ones if Redis still has them, else new ones."""
    from zapline.admin.commands import add_instance, add_org, connect_instance, webhook_urls
    from zapline.clients import aclose_clients
    from zapline.errors import NotFound
    from zapline.store.registry import get_org

    demo: dict[str, Any] | None = None
    try:
        if saved:
            await get_org(saved["org_id"])
            demo = {**saved, **webhook_urls(saved["instance_key"])}
    except NotFound:
        pass
    if demo is None:
        org = await add_org("Demo", "America/Sao_Paulo")
        instance = await add_instance(org["org_id"], "demo", token, settings["UAZAPI_URL"], "5511999990000")
        demo = {"org_id": org["org_id"], "api_key": org["api_key"], **instance}
    # The simulator keeps its webhooks in memory: point the demo instance at Zapline on every start.
    await connect_instance(demo["org_id"], "demo", instance_key=demo["instance_key"])
    await aclose_clients()
    return demo


def _sample_webhook(token: str, now_ms: int) -> dict[str, Any]:
    """A text from the demo contact, sent at ``now_ms``: it counts in today's stats. Its id comes from
    the time too, so the webhook of each start is a new message (and a second send of it a duplicate)."""
    wa_id = f"DEMO{now_ms:028d}"
    return {
        "BaseUrl": "https://demo.uazapi.invalid",
        "EventType": "messages",
        "instanceName": "demo",
        "owner": "5511999990000",
        "token": token,
        "chat": {"wa_chatid": f"{DEMO_CONTACT}@s.whatsapp.net", "name": "Ana Souza", "wa_isGroup": False},
        "message": {
            "id": f"5511999990000:{wa_id}",
            "messageid": wa_id,
            "chatid": f"{DEMO_CONTACT}@s.whatsapp.net",
            "fromMe": False,
            "isGroup": False,
            "messageType": "Conversation",
            "type": "text",
            "messageTimestamp": now_ms,
            "text": "Olá! Quero saber mais sobre o plano Pro.",
            "content": "Olá! Quero saber mais sobre o plano Pro.",
            "sender_pn": f"{DEMO_CONTACT}@s.whatsapp.net",
            "senderName": "Ana Souza",
            "wasSentByApi": False,
        },
    }


def _status(settings: dict[str, str], demo: dict[str, Any], sample: Path, sent_at: str) -> list[str]:
    app = settings["APP_URL"]
    auth = f"-H 'Authorization: Bearer {demo['api_key']}'"
    return [
        "",
        f"  Zapline is running at {app}   (Ctrl-C stops everything; data stays in {sample.parent})",
        f"  Redis REST {settings['UPSTASH_REDIS_REST_URL']}   QStash {settings.get('QSTASH_URL', '-')}   "
        f"Centrifugo {settings.get('CENTRIFUGO_API_URL', '-')}",
        "",
        f"  Demo organisation {demo['org_id']} with instance 'demo' (UAZAPI simulator at {settings['UAZAPI_URL']}).",
        "  1. Watch live updates (in another terminal):",
        f"       .venv/bin/zapline watch --api-key {demo['api_key']} --app-url {app}",
        f"  2. Send a sample UAZAPI webhook through the relay and sandbox QStash (Ana writes; dated now, {sent_at}):",
        f"       curl -s -X POST '{demo['webhook_url']}' -H 'Content-Type: application/json' --data @{sample}",
        "     or let simulated customers write:  .venv/bin/zapline simulate --customers 5 --messages 20",
        "  3. See what was stored:",
        f"       curl -s {auth} {app}/api/v1/conversations",
        f"       curl -s {auth} '{app}/api/v1/leads?phone=%2B{DEMO_CONTACT}'",
        "  4. Reply, close, and let time pass (follow-ups wait 1 h of silence, NPS 60 s after a close):",
        f'       curl -s {auth} -X POST {app}/api/v1/conversations/<id>/messages -d \'{{"text": "Olá!"}}\'',
        f"       curl -s {auth} -X POST {app}/api/v1/conversations/<id>/close",
        f"       curl -s -X POST {settings.get('QSTASH_URL', '')}/_sandbox/clock/advance -d '{{\"seconds\": 3600}}'",
        "  5. Turn the AI on (it answers through the sandbox's OpenAI stand-in), and let the daily summary, reports",
        "     and the other schedules run on the sandbox clock:",
        f"       curl -s {auth} -X PUT {app}/api/v1/ai -d '{{\"enabled\": true}}'",
        "       .venv/bin/zapline schedules sync",
        "  Other zapline commands read the settings from " + str(sample.parent / "dev.env") + ".",
        f"  The functions log to {sample.parent / 'zapline.log'}; warnings and errors also show here.",
        "",
    ]


def run_dev(data_dir: Path, host: str, ports: dict[str, int], port: int, centrifugo_config: Path | None = None) -> int:
    shutdown = Shutdown()  # a Ctrl-C while starting still stops every child
    sandbox = Sandbox(data_dir, host=host, ports=ports, centrifugo_config=centrifugo_config)
    configure(stderr_level="WARNING", file=sandbox.data_dir / "zapline.log")  # the functions then set the level
    try:
        settings = sandbox.start()
        app_port = port or int(sandbox.saved.get("app_port") or 0) or free_port(host)
        settings["APP_URL"] = f"http://{host}:{app_port}"
        os.environ.update(settings)
        env_file = sandbox.data_dir / "dev.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        env_file.chmod(0o600)

        token = sandbox.secrets["uazapi_instance_token"]
        demo = asyncio.run(_demo(settings, sandbox.saved.get("demo"), token))
        sandbox.remember(app_port=app_port, demo={k: demo[k] for k in ("org_id", "api_key", "instance_key")})
        sample = sandbox.data_dir / "sample-webhook.json"

        def ready() -> None:
            now = time.time()
            sample.write_text(json.dumps(_sample_webhook(token, int(now * 1000)), ensure_ascii=False, indent=2))
            print(json.dumps(settings), flush=True)
            for line in _status(settings, demo, sample, time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(now))):
                print(line, file=sys.stderr, flush=True)

        if not shutdown.received:
            # uvicorn takes SIGINT/SIGTERM over while it runs, then hands the one it stopped on back to
            # ``shutdown``, so the sandbox below is stopped whichever signal it was.
            serve(host, app_port, ready, stopped=lambda: bool(shutdown.received))
    finally:
        sandbox.stop()
    return 130 if shutdown.interrupted else 0

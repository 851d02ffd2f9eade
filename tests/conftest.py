from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import SandboxProcess


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The settings printed by one ``zapline sandbox`` started for the whole test session."""
    proc = SandboxProcess(Path(tmp_path_factory.mktemp("sandbox")))
    try:
        yield proc.start()
    finally:
        proc.stop()


@pytest.fixture
def app_env(sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The process environment a deployed function would have, pointing at the sandbox."""
    from zapline.config import get_settings

    env = {**sandbox, "APP_URL": "https://zapline.test"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conversation_loop import Loop
from tests.support import AppProcess


@pytest.fixture(scope="package")
def logged_app(sandbox: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The app with its logs in a file, to read who did what with the keys."""
    from zapline.sandbox.redis_server import free_port

    app = AppProcess(sandbox, free_port(), log_path=Path(tmp_path_factory.mktemp("logs")) / "app.log")
    try:
        app.start()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def loop(logged_app: AppProcess, sandbox: dict[str, str]) -> Loop:
    """An organisation (its first key: an owner key) whose instance lives in the sandbox UAZAPI."""
    return Loop(logged_app, sandbox)

from __future__ import annotations

import pytest

from tests.conversation_loop import Loop
from tests.support import AppProcess


@pytest.fixture(scope="module")
def loop(logged_app: AppProcess, sandbox: dict[str, str]) -> Loop:
    """An organisation (its first key: an owner key) whose instance lives in the sandbox UAZAPI."""
    return Loop(logged_app, sandbox)

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ai.helpers import AiLoop
from tests.support import AppProcess


@pytest.fixture
def ai(app: AppProcess, sandbox: dict[str, str]) -> Iterator[AiLoop]:
    """A fresh organisation with its AI on (debounce 30 s on QStash's clock) and a clean OpenAI script."""
    loop = AiLoop(app, sandbox)
    loop.forget_script()
    loop.enable()
    yield loop
    loop.settle()  # a debounced reply it left is answered now, not in the next test's OpenAI log
    loop.forget_script()

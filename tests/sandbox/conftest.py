"""Fixtures shared by the stand-ins' tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.receiver import HttpReceiver
from tests.sandbox.qstash_helpers import own_sandbox
from tests.sandbox.uazapi_helpers import Instance


@pytest.fixture(scope="module")
def rx() -> Iterator[HttpReceiver]:
    """A recording HTTP receiver for this module's deliveries."""
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def clocked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A sandbox of this module's own, for tests that move the QStash clock."""
    with own_sandbox(Path(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))) as found:
        yield found


@pytest.fixture
def uaz(sandbox: dict[str, str]) -> Iterator[Instance]:
    """A fresh instance in the session sandbox's UAZAPI simulator."""
    with Instance(sandbox) as instance:
        yield instance

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.qstash_helpers import own_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A sandbox and app of the module's own, for tests that move QStash's clock (it is global per sandbox)."""
    with own_stack(Path(tmp_path_factory.mktemp("automations"))) as settings:
        yield settings

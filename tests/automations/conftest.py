from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.qstash_helpers import own_sandbox
from tests.support import AppProcess
from zapline.sandbox.redis_server import free_port


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A sandbox and app of the module's own, for tests that move QStash's clock (it is global per sandbox)."""
    with own_sandbox(Path(tmp_path_factory.mktemp("automations"))) as settings:
        app = AppProcess(settings, free_port())
        try:
            app.start()
            yield {**settings, "APP_URL": app.url}
        finally:
            app.stop()

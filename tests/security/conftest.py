from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.security.helpers import Stack
from tests.support import AppProcess, SandboxProcess
from zapline.sandbox.redis_server import free_port

# ci: a few hundred examples a test, inside the suites' minute; full: HYPOTHESIS_PROFILE=full.
# No example database: these tests run in a shared working tree and against live servers.
_COMMON = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=200, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("full", max_examples=10_000, **_COMMON)  # type: ignore[arg-type]
# HYPOTHESIS_EXAMPLES=N: N examples a test (e.g. 1,700 x the 6 fuzz tests = the 10,000 cases)
if os.environ.get("HYPOTHESIS_EXAMPLES", "").isdigit():
    settings.register_profile("count", max_examples=int(os.environ["HYPOTHESIS_EXAMPLES"]), **_COMMON)  # type: ignore[arg-type]
    os.environ["HYPOTHESIS_PROFILE"] = "count"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A sandbox and app of the module's own: a whole-database digest then sees only its requests."""
    root = Path(tmp_path_factory.mktemp("security"))
    (root / "sandbox").mkdir()
    sandbox = SandboxProcess(root / "sandbox")
    settings_ = sandbox.start()
    app = AppProcess(settings_, free_port(), log_path=root / "app.log")
    try:
        app.start()
        yield Stack(settings_, app)
    finally:
        app.stop()
        sandbox.stop()

"""failures: QStash failure callbacks: dead letters recorded where operators see them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # deployed as files, not installed

from zapline.asgi import function_app, lambda_handler
from zapline.failures import routes

app = function_app("failures", routes)
__getattr__ = lambda_handler(app)

"""admin: the operator API (/api/v1) and dashboard, authenticated per organisation."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # deployed as files, not installed

from zapline.admin import dashboard
from zapline.admin.api import routes
from zapline.asgi import function_app, lambda_handler

app = function_app("admin", [*routes, *dashboard.routes], prefixes=("/api/v1", "/api/admin", "/admin"))
__getattr__ = lambda_handler(app)

"""ingress: UAZAPI → here → QStash, for deployments that keep the QStash token out of UAZAPI."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # deployed as files, not installed

from zapline.asgi import function_app, lambda_handler
from zapline.ingress import routes

app = function_app("ingress", routes)
__getattr__ = lambda_handler(app)

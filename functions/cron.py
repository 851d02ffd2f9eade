"""cron: the QStash schedules of the schedule registry: fixed jobs and the per-organisation tick."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # deployed as files, not installed

from zapline.asgi import function_app, lambda_handler
from zapline.cronjobs import routes

app = function_app("cron", routes)
__getattr__ = lambda_handler(app)

"""jobs: deferred work that QStash calls back: sends, follow-ups, NPS, AI replies, media."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # deployed as files, not installed

from zapline.asgi import function_app, lambda_handler
from zapline.jobs.routes import routes

app = function_app("jobs", routes)
__getattr__ = lambda_handler(app)

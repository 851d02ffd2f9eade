"""cron: QStash schedules: daily summaries, birthdays, reactivation, retention, reports."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # deployed as files, not installed

from zapline.asgi import function_app, lambda_handler

app = function_app("cron")
__getattr__ = lambda_handler(app)

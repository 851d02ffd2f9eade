"""The cron parser lives in the app library (:mod:`zapline.cron`); re-exported for old imports."""

from __future__ import annotations

from zapline.cron import Cron, parse_cron

__all__ = ["Cron", "parse_cron"]

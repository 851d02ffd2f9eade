"""Structured logs: one JSON object a line on stderr, carrying org, instance and message ids.

Fields whose names say they hold a credential or a raw body are dropped, whoever passes them.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

__all__ = ["configure", "get_logger"]

_FORBIDDEN = frozenset({"token", "api_key", "authorization", "password", "secret", "body", "signature"})


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update({k: v for k, v in fields.items() if k.lower() not in _FORBIDDEN})
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(entry, default=str, ensure_ascii=False)


class Logger:
    """``log.info("stored", org=..., message_id=...)``: an event name plus structured fields."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _log(self, level: int, event: str, exc_info: bool, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, event, exc_info=exc_info, extra={"fields": fields})

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, False, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, False, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, False, fields)

    def error(self, event: str, *, exc_info: bool = False, **fields: Any) -> None:
        self._log(logging.ERROR, event, exc_info, fields)


def configure(level: str = "INFO") -> None:
    root = logging.getLogger("zapline")
    root.setLevel(level)
    if not any(getattr(h, "zapline", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonFormatter())
        handler.zapline = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False


def get_logger(name: str) -> Logger:
    return Logger(name if name.startswith("zapline") else f"zapline.{name}")

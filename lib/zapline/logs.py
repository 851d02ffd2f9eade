"""Structured logs carrying org, instance and message ids: one JSON object a line on stderr, or
one readable line when stderr is a terminal (``ZAPLINE_LOG_FORMAT=json|text|auto``, default auto).

Fields whose names say they hold a credential or a raw body are dropped, whoever passes them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

__all__ = ["FORMAT_ENV", "configure", "get_logger"]

FORMAT_ENV = "ZAPLINE_LOG_FORMAT"
_FORBIDDEN = frozenset({"token", "api_key", "authorization", "password", "secret", "body", "signature"})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = getattr(record, "fields", None) or {}
    return {k: v for k, v in fields.items() if k.lower() not in _FORBIDDEN}


def _exception(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_info[0] is not None:
        return f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
    return None


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **_fields(record),
        }
        if exception := _exception(record):
            entry["exception"] = exception
        return json.dumps(entry, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    """``14:02:07 INFO    inbound: ingested org=org_1 outcome=stored`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{k}={v}" for k, v in {**_fields(record), "exception": _exception(record)}.items() if v)
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        name = record.name.removeprefix("zapline.")
        return f"{stamp} {record.levelname:<7} {name}: {record.getMessage()} {pairs}".rstrip()


def _formatter(stream: TextIO) -> logging.Formatter:
    choice = os.environ.get(FORMAT_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "json", "text"):
        from zapline.errors import ConfigError

        raise ConfigError(f"{FORMAT_ENV} must be json, text or auto (text on a terminal), not {choice!r}")
    text = choice == "text" or (choice == "auto" and stream.isatty())
    return _TextFormatter() if text else _JsonFormatter()


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


def configure(level: str = "INFO", *, stderr_level: str | None = None, file: Path | None = None) -> None:
    """Log at ``level`` to stderr (only ``stderr_level`` and above, if given) and to ``file``, as JSON.

    The handlers are installed once per process; a later call only changes the level.
    """
    root = logging.getLogger("zapline")
    root.setLevel(level)
    if any(getattr(h, "zapline", False) for h in root.handlers):
        return
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    handlers[0].setFormatter(_formatter(sys.stderr))
    if stderr_level:
        handlers[0].setLevel(stderr_level)
    if file is not None:
        handlers.append(logging.FileHandler(file, encoding="utf-8"))
        handlers[1].setFormatter(_JsonFormatter())
    for handler in handlers:
        handler.zapline = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.propagate = False


def get_logger(name: str) -> Logger:
    return Logger(name if name.startswith("zapline") else f"zapline.{name}")

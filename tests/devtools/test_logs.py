"""Logs: readable lines at a terminal, JSON lines elsewhere or when asked, credentials never."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from zapline.errors import ConfigError
from zapline.logs import configure, get_logger


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def fresh_logger() -> Iterator[None]:
    logger = logging.getLogger("zapline")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers.clear()
    yield
    for handler in logger.handlers:
        handler.close()
    logger.handlers[:], logger.level, logger.propagate = saved


def _log_to(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch, fmt: str | None = None, **options: object) -> str:
    monkeypatch.setattr("sys.stderr", stream)
    if fmt is None:
        monkeypatch.delenv("ZAPLINE_LOG_FORMAT", raising=False)
    else:
        monkeypatch.setenv("ZAPLINE_LOG_FORMAT", fmt)
    configure("INFO", **options)  # type: ignore[arg-type]
    get_logger("inbound").info("ingested", org="org_1", outcome="stored", token="secret-token")
    return stream.getvalue()


def test_a_terminal_gets_readable_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _log_to(Terminal(), monkeypatch)
    assert out.endswith(" INFO    inbound: ingested org=org_1 outcome=stored\n")
    assert "secret-token" not in out


def test_a_pipe_gets_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = json.loads(_log_to(io.StringIO(), monkeypatch))
    assert entry["event"] == "ingested" and entry["org"] == "org_1" and "token" not in entry


@pytest.mark.parametrize(("stream", "fmt"), [(Terminal, "json"), (io.StringIO, "text")])
def test_the_format_can_be_forced(stream: type[io.StringIO], fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _log_to(stream(), monkeypatch, fmt)
    assert out.startswith("{") == (fmt == "json")


def test_a_bad_format_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="ZAPLINE_LOG_FORMAT must be json, text or auto"):
        _log_to(io.StringIO(), monkeypatch, "xml")


def test_a_log_file_takes_everything_and_the_terminal_only_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    out = _log_to(terminal, monkeypatch, stderr_level="WARNING", file=tmp_path / "zapline.log")
    get_logger("inbound").warning("slow", org="org_1")
    assert out == ""
    assert terminal.getvalue().count("\n") == 1 and "WARNING inbound: slow org=org_1" in terminal.getvalue()
    for handler in logging.getLogger("zapline").handlers:
        handler.flush()
    events = [json.loads(line)["event"] for line in (tmp_path / "zapline.log").read_text().splitlines()]
    assert events == ["ingested", "slow"]

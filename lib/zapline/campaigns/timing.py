"""When a campaign's messages may go: its start in the organisation's timezone, and a daily window.

``start_at`` is a local date and time (``2026-12-01T09:00``) in the organisation's zone; one with an
offset (``…-03:00``, ``Z``) is taken as written. The window (``{"from": "09:00", "to": "20:00"}``)
is local too; ``from`` later than ``to`` spans midnight (``22:00``–``06:00``). A send whose expected
moment falls outside the window is published with ``Upstash-Not-Before`` at the next opening, so
QStash holds it there at no cost; DST is handled by building each day's opening in the zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from zapline.errors import BadRequest

__all__ = ["MAX_AHEAD_DAYS", "Window", "parse_clock", "parse_start", "send_times"]

MAX_AHEAD_DAYS = 366  # a start later than this is refused (400)
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_clock(value: str) -> time:
    """``HH:MM`` (24-hour) as a time; ValueError otherwise."""
    match = _CLOCK.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a time of day written HH:MM (00:00 to 23:59)")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Window:
    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def of(cls, start: str, end: str, timezone: str) -> Window:
        return cls(parse_clock(start), parse_clock(end), ZoneInfo(timezone))

    def contains(self, moment: float) -> bool:
        local = datetime.fromtimestamp(moment, self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight

    def next_opening(self, moment: float) -> float:
        """``moment`` itself inside the window, else the next local ``start`` after it (epoch seconds)."""
        if self.contains(moment):
            return moment
        day = datetime.fromtimestamp(moment, self.zone).date()
        for offset in range(3):
            opening = datetime.combine(day + timedelta(days=offset), self.start, tzinfo=self.zone).timestamp()
            if opening > moment:
                return opening
        raise AssertionError("a daily window opens within two days")  # pragma: no cover


def parse_start(value: str | None, timezone: str, now: float) -> float:
    """``start_at`` as epoch seconds (``now`` when absent or past); BadRequest names what is wrong."""
    if value is None:
        return now
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"start_at: {value[:40]!r} is not a local date and time such as 2026-12-01T09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    start = moment.timestamp()
    if start > now + MAX_AHEAD_DAYS * 86400:
        raise BadRequest(f"start_at: at most {MAX_AHEAD_DAYS} days ahead")
    return max(start, now)


def send_times(first: float, count: int, interval: float, window: Window | None) -> list[int | None]:
    """The ``Upstash-Not-Before`` of each of ``count`` sends expected ``interval`` seconds apart from
    ``first`` (now): None while the window is open, else the opening it waits for — the sends after it
    expected from that opening on, so a page gets one not-before per window it spans (one batch each)."""
    gates: list[int | None] = []
    moment, gate = first, None
    for _ in range(count):
        if window is not None and not window.contains(moment):
            moment = window.next_opening(moment)
            gate = int(moment)
        gates.append(gate)
        moment += interval
    return gates

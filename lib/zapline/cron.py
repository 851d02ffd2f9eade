"""Five-field cron (minute hour day-of-month month day-of-week), UTC or ``CRON_TZ=<IANA zone>``,
as QStash reads it: the schedule registry plans per-organisation local times with it, and the
sandbox QStash fires its schedules with it.

Fields take ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists ``a,b``, month and
weekday names (``JAN``, ``MON``); weekday 7 is Sunday like 0. As in Vixie cron, when both the
day-of-month and the day-of-week are restricted, a day matching either one fires. The macros
``@yearly @annually @monthly @weekly @daily @midnight @hourly`` are accepted too.
Times that do not exist in the zone (the hour skipped when clocks go forward) are skipped; times
that happen twice (clocks going back) fire once, at the first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Cron", "parse_cron"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (  # name, low, high, names
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_SEARCH_DAYS = 366 * 8  # far enough for "29 2 * * 1"-style rare dates


def _number(text: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = names.get(text.upper())
    if value is None:
        if not text.isdigit():
            raise ValueError(f"invalid {field} value {text!r}")
        value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{field} value {value} out of range {low}-{high}")
    return value


def _field(text: str, low: int, high: int, names: dict[str, int], field: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"empty item in {field} field {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"invalid step {step_text!r} in {field} field")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _number(a, low, high, names, field), _number(b, low, high, names, field)
            if start > end:
                raise ValueError(f"invalid range {base!r} in {field} field")
        else:
            start = _number(base, low, high, names, field)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    expression: str
    zone: ZoneInfo | timezone
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_day = day.day in self.days
        by_weekday = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_day or by_weekday
        return by_day and by_weekday

    def next_after(self, after_ms: int) -> int:
        """The first firing instant strictly after ``after_ms`` (unix ms), as unix ms."""
        start = datetime.fromtimestamp(after_ms // 60_000 * 60 + 60, self.zone).replace(tzinfo=None)
        for offset in range(_SEARCH_DAYS):
            day = start.date() + timedelta(days=offset)
            if not self._day_matches(day):
                continue
            first_day = offset == 0
            for hour in self.hours:
                if first_day and hour < start.hour:
                    continue
                for minute in self.minutes:
                    if first_day and hour == start.hour and minute < start.minute:
                        continue
                    local = datetime.combine(day, time(hour, minute))
                    aware = local.replace(tzinfo=self.zone)
                    if aware.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) != local:
                        continue  # skipped by a daylight-saving jump
                    instant = int(aware.timestamp()) * 1000
                    if instant > after_ms:
                        return instant
        raise ValueError(f"cron {self.expression!r} never fires")

    def in_zone(self, zone: ZoneInfo | timezone) -> Cron:
        """The same fields read in another time zone (an organisation's, for instance)."""
        return replace(self, zone=zone)

    def between(self, start_ms: int, end_ms: int) -> Iterator[int]:
        """Every firing instant in ``[start_ms, end_ms)``, as unix ms, in order."""
        at = self.next_after(start_ms - 1)
        while at < end_ms:
            yield at
            at = self.next_after(at)


def parse_cron(expression: str) -> Cron:
    """Parse ``expression``; ``ValueError`` with the reason when it is not a valid schedule."""
    text = expression.strip()
    zone: ZoneInfo | timezone = UTC
    if text.startswith(("CRON_TZ=", "TZ=")):
        spec, _, text = text.partition(" ")
        name = spec.partition("=")[2]
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} in {spec!r}: use an IANA name such as Europe/Berlin"
            ) from None
        text = text.strip()
    text = _MACROS.get(text.lower(), text)
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(
            f"invalid cron expression {expression!r}: expected 5 fields "
            "(minute hour day-of-month month day-of-week), optionally after CRON_TZ=<zone>"
        )
    fields = [_field(p, lo, hi, names, name) for p, (name, lo, hi, names) in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in fields[4])
    cron = Cron(
        expression=expression,
        zone=zone,
        minutes=tuple(sorted(fields[0])),
        hours=tuple(sorted(fields[1])),
        days=fields[2],
        months=fields[3],
        weekdays=weekdays,
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    cron.next_after(0)  # reject dates that never exist, such as "0 0 31 2 *"
    return cron

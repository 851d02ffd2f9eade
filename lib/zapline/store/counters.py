"""The daily counters as readers want them: ``inbound`` and ``outbound`` are counted per local hour
(fields ``inbound:HH``), so a per-hour chart costs the scripts nothing — the same one ``HINCRBY`` a
message always made, into a field named by its hour. Readers add the hours back into the day.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["HOURLY", "fold_hours"]

HOURLY = ("inbound", "outbound")  # counted per local hour (see lua/prelude.lua's count)


def fold_hours(raw: Mapping[str, str | int]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """(the day's counters with the hours summed into ``inbound``/``outbound``, those per hour 0–23)."""
    totals: dict[str, int] = {}
    hourly: dict[str, list[int]] = {name: [0] * 24 for name in HOURLY}
    for field, value in raw.items():
        count = int(value)
        name, _, hour = field.partition(":")
        if name in hourly and len(hour) == 2 and hour.isdigit() and int(hour) < 24:
            hourly[name][int(hour)] += count
            field = name
        totals[field] = totals.get(field, 0) + count
    return totals, hourly

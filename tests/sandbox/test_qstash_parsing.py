"""The sandbox QStash's parsers on their own: cron with CRON_TZ and daylight saving, durations,
the retry-delay language (evaluated without ``eval``), headers, destinations and signatures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from qstash import Receiver

from zapline.sandbox.qstash.cron import parse_cron
from zapline.sandbox.qstash.destination import parse_target
from zapline.sandbox.qstash.durations import parse_duration, parse_retry_hint
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.expressions import compile_retry_delay
from zapline.sandbox.qstash.signing import Signer
from zapline.sandbox.qstash.spec import parse_spec

KEYS = ("sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs")


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def firings(expression: str, start: int, count: int) -> list[str]:
    cron, out, at = parse_cron(expression), [], start
    for _ in range(count):
        at = cron.next_after(at)
        out.append(datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d %H:%M"))
    return out


def test_cron_tz_follows_daylight_saving() -> None:
    # New York moves from UTC-5 to UTC-4 on 2024-03-10: 04:00 local is 09:00 UTC, then 08:00 UTC.
    assert firings("CRON_TZ=America/New_York 0 4 * * *", ms(2024, 3, 8, 12), 3) == [
        "2024-03-09 09:00", "2024-03-10 08:00", "2024-03-11 08:00",
    ]  # fmt: skip
    # 02:30 does not exist that night: skipped, not moved.
    assert firings("CRON_TZ=America/New_York 30 2 * * *", ms(2024, 3, 9, 12), 2) == [
        "2024-03-11 06:30", "2024-03-12 06:30",
    ]  # fmt: skip


def test_cron_fields_names_steps_and_the_day_rule() -> None:
    assert firings("*/15 9-10 * * MON-FRI", ms(2024, 1, 5, 10, 40), 3) == [
        "2024-01-05 10:45", "2024-01-08 09:00", "2024-01-08 09:15",
    ]  # fmt: skip
    # Day of month OR day of week when both are restricted (Vixie cron).
    assert firings("0 0 13 * 5", ms(2024, 9, 1), 3) == ["2024-09-06 00:00", "2024-09-13 00:00", "2024-09-20 00:00"]
    assert firings("@hourly", ms(2024, 1, 1, 0, 0), 1) == ["2024-01-01 01:00"]
    assert firings("0 0 * * 7", ms(2024, 1, 1), 1) == ["2024-01-07 00:00"]  # 7 is Sunday too


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "*/0 * * * *",
        "5-1 * * * *",
        "0 0 30 2 *",
        "CRON_TZ=X 0 * * * *",
    ],
)
def test_invalid_crons_are_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_cron(expression)


def test_durations() -> None:
    assert [parse_duration(v, what="x") for v in ("10s", "5m", "1h30m3s", "1d10h30m", "42")] == [
        10,
        300,
        5403,
        124200,
        42,
    ]
    for bad in ("soon", "10ms", "1.5h", "-1s", "s"):
        with pytest.raises(ValueError, match="invalid x"):
            parse_duration(bad, what="x")
    now = ms(2024, 1, 1)
    assert parse_retry_hint("30", now) == 30_000
    assert parse_retry_hint("6m5s", now) == 365_000 and parse_retry_hint("1.5s", now) == 1500
    assert parse_retry_hint("Mon, 01 Jan 2024 00:01:00 GMT", now) == 60_000
    assert parse_retry_hint("later", now) is None


@pytest.mark.parametrize(
    ("source", "retried", "expected"),
    [
        ("1000", 5, 1000),
        ("1000 * (1 + retried)", 2, 3000),
        ("pow(2, retried) * 1000", 3, 8000),
        ("max(1000, pow(2, retried) * 100)", 1, 1000),
        ("min(10, 20, 5) + abs(-2) + floor(2.7) + ceil(0.2) + round(2.5) + sqrt(16)", 0, 17),
        ("exp(1) * 1000", 0, 2718),
        ("-(retried) + 10 % 4", 1, 1),
        ("1000 / (retried - retried)", 0, None),  # division by zero: the default backoff applies
        ("pow(10, 400)", 0, None),
    ],
)
def test_retry_delay_expressions(source: str, retried: int, expected: int | None) -> None:
    assert compile_retry_delay(source).milliseconds(retried) == expected


@pytest.mark.parametrize(
    "source", ["", "retried +", "1000 * (2", "import os", "__import__('os')", "open(1)", "min(1)", "1 ** 2", "a.b"]
)
def test_retry_delay_rejects_anything_else(source: str) -> None:
    with pytest.raises(ValueError):
        compile_retry_delay(source)


def test_headers_become_a_spec() -> None:
    spec = parse_spec(
        [
            ("content-type", "application/json"),
            ("upstash-forward-content-type", "text/plain"),
            ("upstash-forward-x-a", "1"),
            ("upstash-forward-x-a", "2"),
            ("upstash-method", "put"),
            ("upstash-content-based-deduplication", "True"),
            ("upstash-flow-control-key", "send:realtime:i1"),
            ("upstash-flow-control-value", "parallelism=2, rate=10, period=60s"),
            ("upstash-callback", "https://app.example.com/cb"),
            ("upstash-callback-retries", "0"),
            ("upstash-callback-forward-x-c", "c"),
            ("upstash-redact-fields", "body,header[Authorization]"),
            ("upstash-region", "ignored"),
        ]
    )
    assert spec.headers == {"Content-Type": ["application/json"], "X-A": ["1", "2"]}
    assert spec.method == "PUT" and spec.content_dedup is True
    assert spec.flow is not None and (spec.flow.key, spec.flow.parallelism, spec.flow.rate, spec.flow.period) == (
        "send:realtime:i1", 2, 10, 60,
    )  # fmt: skip
    assert spec.callback is not None and spec.callback.retries == 0 and spec.callback.headers == {"X-C": ["c"]}
    assert spec.redact == ("body", "header[Authorization]")
    with pytest.raises(ApiError, match="period"):
        parse_spec([("upstash-flow-control-key", "k"), ("upstash-flow-control-value", "period=8d")])


def test_destinations_keep_their_bytes_and_lose_only_qstash_parameters() -> None:
    target = parse_target("https://app.example.com/a%20b//c", b"x=1%202&qstash_token=t&upstash-delay=10s&y=%C3%A9")
    assert target.url == "https://app.example.com/a%20b//c?x=1%202&y=%C3%A9"
    assert target.config == [("upstash-delay", "10s")]
    assert parse_target("my-group", b"").group == "my-group"
    with pytest.raises(ApiError, match="invalid scheme"):
        parse_target("ftp://example.com", b"")


def test_signatures_verify_with_the_official_receiver() -> None:
    signer = Signer(*KEYS)
    url, body = "https://app.example.com/api?x=1", b'{"a": 1}'
    Receiver(*KEYS).verify(signature=signer.sign(url, body), body=body.decode(), url=url)
    signer.rotate()
    assert signer.current == KEYS[1] and signer.next.startswith("sig_") and len(signer.next) == 32
    Receiver(KEYS[1], signer.next).verify(signature=signer.sign(url, body), body=body.decode(), url=url)

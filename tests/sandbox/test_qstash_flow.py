"""Flow control: the configuration echoed on messages (qstash-py's own expectations), the
flow-control API, and, on a sandbox of its own, rate per period, parallelism and pause observed at
a real endpoint under the sandbox clock."""

from __future__ import annotations

import asyncio

import pytest
from qstash.errors import QStashError
from qstash.message import BatchJsonRequest, FlowControl, PublishResponse

from tests.receiver import HttpReceiver, Reply
from tests.sandbox.qstash_helpers import advance, async_client, client, now_ms, raw, unique, verify

# Other suites move the session sandbox's clock (by hours at most): messages that must stay pending
# there are parked 300 days ahead.
PARKED = "300d"


def test_messages_echo_their_flow_control(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash, url = client(sandbox), rx.url_for(f"/{unique()}")
    res = qstash.message.publish_json(
        url=url, body={}, delay=PARKED, flow_control=FlowControl(key=unique("fk"), parallelism=3, rate=4, period=2)
    )
    assert isinstance(res, PublishResponse)
    flow = qstash.message.get(res.message_id).flow_control
    assert flow is not None and (flow.parallelism, flow.rate, flow.period) == (3, 4, 2)
    batch = qstash.message.batch_json(
        [
            BatchJsonRequest(url=url, body={}, delay=PARKED, flow_control=FlowControl(key=unique("fk"), rate=1)),
            BatchJsonRequest(
                url=url, body={}, delay=PARKED, flow_control=FlowControl(key="k2", rate=23, period="1h30m3s")
            ),
            BatchJsonRequest(url=url, body={}, delay=PARKED, flow_control=FlowControl(key="k3", parallelism=5)),
        ]
    )
    expected = [(None, 1, 1), (None, 23, 5403), (5, None, 1)]
    for item, (parallelism, rate, period) in zip(batch, expected, strict=True):
        assert not isinstance(item, list)
        flow = qstash.message.get(item.message_id).flow_control
        assert flow is not None and (flow.parallelism, flow.rate, flow.period) == (parallelism, rate, period)
        qstash.message.cancel(item.message_id)
    qstash.message.cancel(res.message_id)
    headers = {
        "Upstash-Delay": PARKED,
        "Upstash-Flow-Control-Key": "k4",
        "Upstash-Flow-Control-Value": "parallelism=5,rate=10,period=1m",  # the docs' form, no spaces
    }
    plain = raw(sandbox, "POST", f"/v2/publish/{url}", headers=headers)
    assert plain.status_code == 200
    assert raw(sandbox, "GET", f"/v2/messages/{plain.json()['messageId']}").json()["period"] == 60
    qstash.message.cancel(plain.json()["messageId"])


def test_the_flow_control_api(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash, key = client(sandbox), unique("fc")
    res = qstash.message.publish_json(
        url=rx.url_for("/later"),
        body={},
        delay=PARKED,
        flow_control=FlowControl(key=key, parallelism=5, rate=10, period="1m"),
    )
    assert isinstance(res, PublishResponse)
    info = qstash.flow_control.get(key)
    assert (info.key, info.parallelism_max, info.rate_max, info.rate_period) == (key, 5, 10, 60)
    assert (info.parallelism_count, info.wait_list_size, info.is_paused) == (0, 0, False)
    qstash.flow_control.pause(key)
    assert qstash.flow_control.get(key).is_paused is True
    qstash.flow_control.resume(key)
    assert qstash.flow_control.get(key).is_paused is False
    qstash.flow_control.pin(key, {"parallelism": 3, "rate": 20, "period": 120})
    pinned = qstash.flow_control.get(key)
    assert (pinned.is_pinned_parallelism, pinned.is_pinned_rate) == (True, True)
    assert (pinned.parallelism_max, pinned.rate_max, pinned.rate_period) == (3, 20, 120)
    qstash.message.publish_json(
        url=rx.url_for("/later"), body={}, delay=PARKED, flow_control={"key": key, "parallelism": 9}
    )
    assert qstash.flow_control.get(key).parallelism_max == 3  # pinned: incoming values are ignored
    qstash.flow_control.unpin(key, {"parallelism": True})
    partial = qstash.flow_control.get(key)
    assert (partial.is_pinned_parallelism, partial.is_pinned_rate) == (False, True)
    qstash.flow_control.reset_rate(key)
    assert qstash.flow_control.get(key).rate_count == 0
    globally = qstash.flow_control.get_global_parallelism()
    assert globally.parallelism_max > 0 and globally.parallelism_count >= 0
    assert key in [
        item["flowControlKey"] for item in raw(sandbox, "GET", "/v2/flowControl", params={"search": key}).json()
    ]
    with pytest.raises(QStashError, match="404"):
        qstash.flow_control.get(unique("unknown"))
    qstash.message.cancel_many([res.message_id])


def test_rate_per_period_releases_the_waitlist_period_by_period(clocked: dict[str, str], rx: HttpReceiver) -> None:
    qstash, key, path = client(clocked), unique("rate"), f"/{unique()}"
    for i in range(5):
        qstash.message.publish(url=rx.url_for(path), body=str(i), flow_control={"key": key, "rate": 2, "period": "1m"})
    assert [r.text for r in rx.wait_for(2, path=path)] == ["0", "1"]
    info = qstash.flow_control.get(key)
    assert (info.rate_count, info.wait_list_size) == (2, 3)
    # the period runs from the first call (ratePeriodStart, whole seconds): two seconds before its end
    # nothing more goes, whatever time the publishes took; three seconds later the next two go
    advance(clocked, info.rate_period_start + 58 - now_ms(clocked) / 1000)
    assert len(rx.received(path)) == 2
    advance(clocked, 3)
    assert [r.text for r in rx.received(path)] == ["0", "1", "2", "3"]
    advance(clocked, 60)
    assert [r.text for r in rx.received(path)] == ["0", "1", "2", "3", "4"]
    for request in rx.received(path):
        verify(clocked, request, rx.url_for(path))


def test_parallelism_limits_calls_in_flight(clocked: dict[str, str], rx: HttpReceiver) -> None:
    key, path = unique("par"), f"/{unique()}"
    rx.respond(path, Reply(200, delay=0.2))

    async def go() -> None:
        async with async_client(clocked) as qstash:
            for i in range(3):
                await qstash.message.publish(
                    url=rx.url_for(path), body=str(i), flow_control={"key": key, "parallelism": 1}
                )

    asyncio.run(go())
    got = rx.wait_for(3, path=path)
    starts = [r.monotonic for r in got]
    assert [r.text for r in got] == ["0", "1", "2"]
    assert starts[1] - starts[0] >= 0.2 and starts[2] - starts[1] >= 0.2


def test_a_paused_key_holds_its_messages(clocked: dict[str, str], rx: HttpReceiver) -> None:
    qstash, key, path, control = client(clocked), unique("pause"), f"/{unique()}", f"/{unique()}"
    qstash.message.publish(url=rx.url_for("/later"), delay="1h", flow_control={"key": key, "rate": 100})
    qstash.flow_control.pause(key)
    qstash.message.publish(url=rx.url_for(path), body="held", flow_control={"key": key, "rate": 100})
    qstash.message.publish(url=rx.url_for(control), body="free")
    rx.wait_for(1, path=control)
    assert rx.received(path) == [] and qstash.flow_control.get(key).wait_list_size == 1
    qstash.flow_control.resume(key)
    assert [r.text for r in rx.wait_for(1, path=path)] == ["held"]

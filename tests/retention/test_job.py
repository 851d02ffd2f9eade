"""The retention job end to end: the owner's setting over the API, the job run through QStash (the
owner's ``/schedules/retention/run``), its counts in the job's answer and in ``GET /retention``, and
what the API shows afterwards. The app's rounds hold ``BATCH`` messages, so this one takes two."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import redis as redis_py

from tests.retention.conftest import BATCH, DAY_MS, Org, delivered, now_ms
from tests.support import AppProcess, wait_until
from zapline.store.keys import OrgKeys


@pytest.fixture(scope="module")
def org(retention_app: AppProcess, sandbox: dict[str, str]) -> Iterator[Org]:
    org = Org(retention_app, sandbox)
    yield org
    org.close()


def test_the_retention_period_is_the_owners_to_read_and_set(org: Org) -> None:
    assert org.get("/retention") == {"message_days": 180, "dead_letter_days": 7, "last_run": None}
    for wrong in ({"message_days": 6}, {"message_days": 3651}, {"message_days": "30"}, {}, {"message_days": 7.5}):
        answer = org.api("PUT", "/retention", json=wrong)
        assert answer.status_code == 400 and "message_days" in answer.json()["error"], (wrong, answer.text)
    assert org.api("PUT", "/retention", json={"message_days": 30}).json()["message_days"] == 30
    agent = org.api("POST", "/keys", json={"role": "agent"}).json()["api_key"]
    for method in ("GET", "PUT"):
        refused = org.api(method, "/retention", json={"message_days": 9}, headers={"Authorization": f"Bearer {agent}"})
        assert refused.status_code == 403, refused.text
    assert org.get("/retention")["message_days"] == 30


def test_the_job_deletes_what_is_old_keeps_what_is_new_and_answers_counts(
    org: Org, sandbox: dict[str, str], retention_app: AppProcess
) -> None:
    assert org.api("PUT", "/retention", json={"message_days": 30}).status_code == 200
    old, new = now_ms() - 40 * DAY_MS, now_ms() - DAY_MS
    ana, bia = "5511975550001", "5511975550002"
    first_wa = org.says(ana, "antiga 00", old)
    for i in range(1, 30):
        org.says(ana, f"antiga {i:02d}", old + i * 1000)
    org.webhook(org.uazapi.reaction(first_wa, "👍", target_from_me=False, contact=ana, timestamp=old + 40_000))
    org.says(ana, "nova 1", new)
    org.says(ana, "nova 2", new + 1000)
    for i in range(3):
        org.says(bia, f"só antigas {i}", old + i * 1000)
    keys = OrgKeys(org.org_id)
    raw = redis_py.Redis.from_url(sandbox["REDIS_URL"], decode_responses=True)
    reaction_alias = next(iter(raw.scan_iter(match=keys.wa_message("*", "*"))))
    for n, days in enumerate((8, 1)):  # recorded 8 days ago and yesterday (newest first, as recorded)
        record = {"dlq_id": f"ret-dlq-{n}", "qstash_message_id": f"m{n}", "job": "send", "path": "/api/jobs/send",
                  "http_status": 500, "reason": "x", "retried": 3, "at": now_ms() - days * DAY_MS,
                  "size": 2}  # fmt: skip
        raw.lpush(keys.dead_letters, json.dumps(record))

    started_at = now_ms()
    started = org.api("POST", "/schedules/retention/run")
    assert started.status_code == 200, started.text
    first = delivered(sandbox, started.json()["qstash_message_id"])

    assert (first["outcome"], first["round"], first["message_days"]) == ("continued", 0, 30)
    assert (first["messages"], first["dead_letters"]) == (BATCH, 1)
    assert now_ms() - 31 * DAY_MS < first["cutoff"] < now_ms() - 29 * DAY_MS
    run = org.finished_run(first["local_time"])
    assert run["rounds"] == 2 and run["totals"]["messages"] == 33 and run["totals"]["dead_letters"] == 1
    assert run["totals"]["aliases"] == 1 and run["totals"]["conversations"] == 0  # open conversations stay

    conversations = {c["title"]: c for c in org.conversations()}
    kept = conversations[f"Cliente {ana[-4:]}"]
    assert [m["text"] for m in org.messages(kept["id"])] == ["nova 1", "nova 2"]
    assert (kept["message_count"], kept["preview"]) == (2, "nova 2")
    emptied = conversations[f"Cliente {bia[-4:]}"]
    assert (emptied["message_count"], emptied["preview"], org.messages(emptied["id"])) == (0, None, [])
    assert [d["dlq_id"] for d in org.get("/dead-letters")["items"]] == ["ret-dlq-1"]
    assert not raw.exists(reaction_alias)
    assert raw.zcard(keys.conversation_messages(kept["id"])) == 2
    raw.close()

    # run now again, in a later second: a firing of its own (one in the same second is the same firing)
    wait_until(lambda: int(time.time()) > started_at // 1000 + 1, timeout=5, what="the next second")
    again = org.api("POST", "/schedules/retention/run").json()["qstash_message_id"]
    assert again != started.json()["qstash_message_id"]
    second = delivered(sandbox, again)
    assert (second["outcome"], second["messages"], second["dead_letters"], second["aliases"]) == ("done", 0, 0, 0)

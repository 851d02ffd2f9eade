"""Chaos: a bounded fault-injection run on the whole sandbox stack (``make chaos``, ``python -m tests.chaos``).

N distinct inbound messages (each published 1–3 times through the ingress relay, some with receipts,
some receipts before their message) meet: a fault proxy between QStash and the functions that fails
about 20% of the deliveries to the inbound function (half before it runs, half after it stored);
redis-server SIGKILLed and restarted on its append-only file; the Upstash REST bridge SIGKILLed and
restarted; Centrifugo frozen (SIGSTOP) longer than the app's HTTP timeout. The sandbox clock then
drives QStash's retries until nothing is pending, the dead letters are retried once, and the run
counts what was stored through the operator API, cross-checked in Redis.

The figures (``name: value`` lines, these first):

- ``messages_sent``: distinct messages (N); ``stored_exactly_once``: of them, listed once by the
  operator API after the DLQ retry; ``lost``: not listed at the end (= ``lost_after_dlq_retry``;
  ``lost_before_dlq_retry`` counts those waiting in the DLQ before its retry — the run's doomed
  messages fail every delivery on purpose, so there are always some); ``duplicated``: listed more
  than once (after the DLQ retry);
  ``final_status_correct``: stored with the highest receipt sent for it (``received`` if none);
  ``dead_letters_before_retry``: QStash's DLQ once retries were exhausted; ``lost_after_dlq_retry``:
  not listed after the DLQ retry was driven to completion.
- then the traffic, each fault and whether traffic met it, the proxy's counts, the cross-checks
  (``count_mismatches``: conversations whose API ``message_count``, Redis ``message_count``, message
  index size and listed messages disagree, plus 1 if the day's ``inbound`` counter, read through
  ``/api/v1/stats/daily`` and in Redis, differs from the messages stored) and the timings.

The run fails (exit 1) on any loss or duplicate after the DLQ retry, a wrong final status, a count
mismatch, a dead letter left, or redis state lost over the restart; exit 2 if it could not finish
within its budget.
"""

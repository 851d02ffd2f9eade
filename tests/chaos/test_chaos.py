"""A small chaos run (``make chaos`` in miniature) as part of the suite: faults in every part, and
still every message stored exactly once with its final status, and every count agreeing."""

from __future__ import annotations

from tests.chaos.run import failures, run

N = 200


def test_every_message_is_stored_exactly_once_through_the_faults() -> None:
    figures = run(N, seed=7, budget_s=100)
    assert failures(figures) == [], figures
    assert figures["stored_exactly_once"] == figures["messages_sent"] == N
    assert (
        figures["lost"] == figures["lost_after_dlq_retry"] == figures["duplicated"] == figures["count_mismatches"] == 0
    )
    assert figures["lost_before_dlq_retry"] > 0  # the dead letters were really needed
    assert figures["final_status_correct"] == N
    assert figures["inbound_counter"] == figures["messages_stored"] == N
    # the faults happened, and traffic met each of them
    assert figures["faults_before"] > 0 and figures["faults_after"] > 0
    assert figures["dead_letters_before_retry"] > 0  # the doomed messages at least
    assert figures["redis_state_survived"] == 1
    assert figures["redis_outage_met"] == figures["upstash_outage_met"] == figures["centrifugo_freeze_met"] == 1
    assert figures["centrifugo_frozen_s"] > 2.0  # longer than the app's HTTP timeout

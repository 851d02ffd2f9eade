"""`zapline watch` prints a message's text once, and never more than a line of it."""

from __future__ import annotations

from zapline.devtools.watch import SHOWN_CHARS, describe


def test_a_message_is_printed_once_and_a_long_text_is_cut() -> None:
    message = {"id": "msg_1", "conversation_id": "conv_1", "direction": "out", "text": "x" * 5000, "status": "pending"}
    created = describe("inbox:org", {"type": "message.created", "message": message, "conversation": {"title": "Ana"}})
    updated = describe("inbox:org", {"type": "message.updated", "message": {**message, "status": "sent"}})
    assert created.count("x") == SHOWN_CHARS - 1 and created.endswith("(pending)")
    assert "x" not in updated and updated.endswith("msg_1 is sent")

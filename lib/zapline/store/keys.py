"""Every Redis key Zapline uses, in one place.

Per-organisation keys start ``zl:{<org_id>}:``: the braces are a Redis Cluster hash tag, so all
of one organisation's keys share a slot and every multi-key Lua script touches a single slot.
Lua scripts receive the organisation record key as ``KEYS[1]`` and derive the rest from its
prefix with the same names as below (see ``lua/ingest.lua``).

Retention is explicit:

- ``early:*`` (receipts, edits, reactions that arrived before their message): 7 days, then the message
  is unlikely to come.
- ``day:*`` (daily counters): 400 days, enough for year-on-year reports.
- ``dead`` (dead letters seen by the failures function): the newest ``DEAD_LETTERS_KEPT``;
  ``dead-seen:*`` (which callbacks were recorded): 30 days, longer than QStash keeps a dead letter.
- everything else lives until the retention job or an operator removes it.
"""

from __future__ import annotations

__all__ = ["OrgKeys", "all_orgs"]

EARLY_EVENTS_TTL = 7 * 24 * 3600
DEAD_LETTERS_KEPT = 1000
DEAD_LETTER_SEEN_TTL = 30 * 24 * 3600
DAILY_COUNTER_TTL = 400 * 24 * 3600


def all_orgs() -> str:
    """Set of every organisation id (for schedules that visit each one)."""
    return "zl:orgs"


class OrgKeys:
    """Key names inside one organisation's slot."""

    __slots__ = ("org_id", "prefix")

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.prefix = f"zl:{{{org_id}}}:"

    @property
    def org(self) -> str:
        """Hash: id, name, timezone, api_key_hash, created_at. ``KEYS[1]`` of every script."""
        return f"{self.prefix}org"

    @property
    def instances(self) -> str:
        """Hash: instance name → instance id."""
        return f"{self.prefix}instances"

    def instance(self, instance_id: str) -> str:
        """Hash: id, name, token (UAZAPI's, needed to send), base_url, owner, key_hash, timezone, status."""
        return f"{self.prefix}instance:{instance_id}"

    @property
    def lead_index(self) -> str:
        """Hash: E.164 phone (or ``lid:<lid>``) → lead id."""
        return f"{self.prefix}leads:phone"

    def lead(self, lead_id: str) -> str:
        """Hash: id, phone, lid, name, instance_id, chat_jid, created_at, opted_out."""
        return f"{self.prefix}lead:{lead_id}"

    def lead_conversations(self, lead_id: str) -> str:
        """Sorted set: conversation ids by opening time."""
        return f"{self.prefix}lead:{lead_id}:convs"

    @property
    def chats(self) -> str:
        """Hash: ``<instance_id>|<chat jid>`` → the chat's current conversation id."""
        return f"{self.prefix}chats"

    def conversation(self, conv_id: str) -> str:
        """Hash: id, lead_id, instance_id, chat_jid, status, title, unread, counts, last activity."""
        return f"{self.prefix}conv:{conv_id}"

    def conversation_messages(self, conv_id: str) -> str:
        """Sorted set: message ids by WhatsApp timestamp (ms)."""
        return f"{self.prefix}conv:{conv_id}:msgs"

    @property
    def inbox(self) -> str:
        """Sorted set: conversation ids by last activity (ms)."""
        return f"{self.prefix}inbox"

    def message(self, message_id: str) -> str:
        """String: the message record as JSON."""
        return f"{self.prefix}msg:{message_id}"

    def wa_message(self, instance_id: str, wa_id: str) -> str:
        """String: WhatsApp message id → our message id. Deduplication and receipt lookup."""
        return f"{self.prefix}wa:{instance_id}:{wa_id}"

    def early_events(self, instance_id: str, wa_id: str) -> str:
        """List: JSON receipts, edits, reactions and deletions for a message not stored yet, applied
        when it arrives (TTL ``EARLY_EVENTS_TTL``)."""
        return f"{self.prefix}early:{instance_id}:{wa_id}"

    def daily(self, day: str) -> str:
        """Hash: counters for one local day (inbound, outbound, new_leads, …), TTL ``DAILY_COUNTER_TTL``."""
        return f"{self.prefix}day:{day}"

    @property
    def dead_letters(self) -> str:
        """List, newest first: JSON records of QStash failure callbacks (capped at ``DEAD_LETTERS_KEPT``)."""
        return f"{self.prefix}dead"

    def dead_letter_seen(self, dlq_id: str) -> str:
        """String: set once the failures function recorded this dead letter (TTL ``DEAD_LETTER_SEEN_TTL``)."""
        return f"{self.prefix}dead-seen:{dlq_id}"

    @property
    def unknown_events(self) -> str:
        """Hash: unknown UAZAPI EventType → how many were acknowledged."""
        return f"{self.prefix}events:unknown"

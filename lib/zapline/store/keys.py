"""Every Redis key Zapline uses, in one place.

Per-organisation keys start ``zl:{<org_id>}:``: the braces are a Redis Cluster hash tag, so all
of one organisation's keys share a slot and every multi-key Lua script touches a single slot.
Lua scripts receive the organisation record key as ``KEYS[1]`` and derive the rest from its
prefix through ``K.<name>(…)``, generated from ``TEMPLATES`` below (see ``lua_key_functions``).

Retention is explicit:

- ``early:*`` (receipts, edits, reactions that arrived before their message): 7 days, then the message
  is unlikely to come.
- ``day:*`` (daily counters): 400 days, enough for year-on-year reports.
- ``metrics:totals`` (the daily counters summed up to a day, for ``GET /api/v1/metrics``): lives with
  the organisation; days folded into it are never read again, so their expiry loses nothing.
- ``dead`` (dead letters seen by the failures function): the newest ``DEAD_LETTERS_KEPT``;
  ``dead-seen:*`` (which callbacks were recorded): 30 days, longer than QStash keeps a dead letter.
- ``auto-run:*`` (an automation's firing ran): 35 days; ``notify:*`` (a notification this hour) and
  ``send-fails:*`` (recent failed sends of an instance): 1 hour.
- ``msg:*``, ``conv:*:msgs`` entries, ``wa:*`` aliases and long-closed conversations: the retention job
  (``store/retention.py``), after the organisation's retention period; ``dead`` records after 7 days.
- everything else lives until the retention job or an operator removes it.
"""

from __future__ import annotations

__all__ = [
    "OrgKeys",
    "all_orgs",
    "api_key_field",
    "lane_paused_field",
    "lua_key_functions",
    "sweep_marks",
    "timer_member",
]

EARLY_EVENTS_TTL = 7 * 24 * 3600
DEAD_LETTERS_KEPT = 1000
DEAD_LETTER_SEEN_TTL = 30 * 24 * 3600
DAILY_COUNTER_TTL = 400 * 24 * 3600
AUTOMATION_RUN_TTL = 35 * 24 * 3600  # longer than QStash keeps retrying or a dead letter
NOTIFY_MARK_TTL = 3600  # at most one notification per cause and conversation (or instance) an hour
SEND_FAILURES_TTL = 3600


# Every per-organisation key: its name here, its suffix after ``zl:{<org>}:`` (``{}`` for each id).
# OrgKeys builds them for Python and lua_key_functions() for the scripts (``K.<name>(ids…)``), so no
# key name is ever written anywhere else.
TEMPLATES = {
    "org": "org",
    "instances": "instances",
    "instance": "instance:{}",
    "lead_index": "leads:phone",
    "lead": "lead:{}",
    "lead_conversations": "lead:{}:convs",
    "chats": "chats",
    "conversation": "conv:{}",
    "conversation_messages": "conv:{}:msgs",
    "inbox": "inbox",
    "message": "msg:{}",
    "wa_message": "wa:{}:{}",
    "early_events": "early:{}:{}",
    "daily": "day:{}",
    "metrics_totals": "metrics:totals",
    "dead_letters": "dead",
    "dead_letter_seen": "dead-seen:{}",
    "campaigns": "campaigns",
    "campaigns_ended": "campaigns:ended",
    "campaign": "campaign:{}",
    "campaign_recipients": "campaign:{}:to",
    "campaign_staged": "campaign:{}:to:{}",
    "campaign_marks": "campaign:{}:marks",
    "campaign_held": "campaign:{}:held",
    "unknown_events": "events:unknown",
    "outbox": "outbox",
    "timers": "timers",
    "retention_index": "retention:convs",
    "retention_state": "retention:state",
    "owner_message": "owner-msg:{}",
    "owner_messages": "owner-msgs",
    "ai_knowledge": "ai:knowledge",
    "automation_run": "auto-run:{}:{}",
    "automation_marks": "auto-marks",
    "notify_mark": "notify:{}:{}",
    "send_failures": "send-fails:{}",
    "contact_sync": "contacts:{}:sync",
    "contact_digests": "contacts:{}:digests",
}


# Members and fields inside those keys that scripts build too: ``F.<name>(...)`` in Lua.
FIELDS = {
    "schedule_paused": "schedule_paused:{}",  # org hash: a per-organisation schedule this organisation paused
    "lead_lid": "lid:{}",  # lead_index: a lead known by its LID
    "chat": "{}|{}",  # chats (before 0.2): <instance_id>|<chat jid>
    "instance_chat": "chat:{}",  # instance hash: <chat jid> → <conversation>|<lead>|<early events until, ms>
    "timer_followup": "fu|{}|{}",  # timers: <conversation>|<epoch>
    "timer_nps": "nps|{}",  # timers: <conversation>
    "retention_days": "retention_message_days",  # org hash: days this organisation keeps messages (store/retention.py)
    "api_key": "apikey:{}",  # org hash: <key id> → the API key's record as JSON (admin/auth.py)
    # instance hash: <lane> → "<key prefix>|<ms>" while an owner holds that send lane (admin/lanes.py).
    # In the instance hash because the send job's claim reads that hash anyway: a check costs no command.
    "lane_paused": "paused:{}",
    "automation": "automation:{}",  # org hash: one automation's settings as JSON (automations/settings.py)
    "mark_birthday": "birthday:{}",  # automation_marks: <lead> → the year greeted
    "mark_inactive": "inactive:{}",  # automation_marks: <lead> → when a reactivation was sent (ms)
}


def _lua_function(table: str, name: str, template: str, prefix: str | None) -> str:
    parts = template.split("{}")
    params = [f"a{i}" for i in range(len(parts) - 1)]
    pieces = [prefix] if prefix else []
    for i, part in enumerate(parts):
        if part:
            pieces.append(repr(part).replace('"', "'"))
        if i < len(params):
            pieces.append(f"tostring({params[i]})")
    return f"{table}.{name} = function({', '.join(params)}) return {' .. '.join(pieces)} end"


def lua_key_functions() -> str:
    """Lua that defines ``K.<name>(...)`` for every key (from the script's ``P`` prefix) and
    ``F.<name>(...)`` for every field template."""
    lines = ["local K, F = {}, {}"]
    lines += [_lua_function("K", name, template, "P") for name, template in TEMPLATES.items()]
    lines += [_lua_function("F", name, template, None) for name, template in FIELDS.items()]
    return "\n".join(lines) + "\n"


def all_orgs() -> str:
    """Set of every organisation id (for schedules that visit each one)."""
    return "zl:orgs"


def sweep_marks() -> str:
    """Sorted set: organisations whose outbox or timers the sweeper should visit soon (score: when
    marked, ms). Marked when a publish to QStash failed; the hourly full sweep covers a crash."""
    return "zl:sweep"


def timer_member(kind: str, conversation_id: str, epoch: int | None = None) -> str:
    """A ``timers`` entry: ``fu|<conversation>|<epoch>`` (a follow-up chain to arm) or ``nps|<conversation>``."""
    if kind == "fu":
        return FIELDS["timer_followup"].format(conversation_id, epoch)
    return FIELDS["timer_nps"].format(conversation_id)


def lane_paused_field(lane: str) -> str:
    """The instance hash field present while the instance's ``lane`` is paused: ``paused:<lane>``."""
    return FIELDS["lane_paused"].format(lane)


def api_key_field(key_id: str) -> str:
    """The org hash field holding one API key's record: ``apikey:<key id>``."""
    return FIELDS["api_key"].format(key_id)


class OrgKeys:
    """Key names inside one organisation's slot."""

    __slots__ = ("org_id", "prefix")

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.prefix = f"zl:{{{org_id}}}:"

    @property
    def org(self) -> str:
        """Hash: id, name, timezone, created_at, followups, and ``apikey:<key id>`` → each API key's
        record as JSON (role, name, prefix, SHA-256 digest, created/rotated/revoked; admin/auth.py):
        in this hash so that authenticating is one ``HMGET`` whatever the key's age. ``api_key_hash``:
        the one key of an organisation created before roles, an owner key until its record replaces
        it. ``KEYS[1]`` of every script."""
        return self.prefix + TEMPLATES["org"]

    @property
    def instances(self) -> str:
        """Hash: instance name → instance id."""
        return self.prefix + TEMPLATES["instances"]

    def instance(self, instance_id: str) -> str:
        """Hash: id, name, token (UAZAPI's, needed to send), base_url, owner, key_hash, timezone, status,
        and ``chat:<jid>`` → ``<conversation>|<lead>|<early-until ms>`` per chat: read with the instance's
        credentials in the ingest script's first command, it finds the conversation and the lead and
        says whether events wait for this chat's messages, so a steady message costs no other lookup."""
        return self.prefix + TEMPLATES["instance"].format(instance_id)

    @property
    def lead_index(self) -> str:
        """Hash: E.164 phone (or ``lid:<lid>``) → lead id."""
        return self.prefix + TEMPLATES["lead_index"]

    def lead(self, lead_id: str) -> str:
        """Hash: id, phone, lid, name, instance_id, chat_jid, created_at, opted_out; the profile (store/leads.py):
        email, birthday, tags and fields (JSON), labels (JSON), profile_picture, edited (JSON), updated_at."""
        return self.prefix + TEMPLATES["lead"].format(lead_id)

    def lead_conversations(self, lead_id: str) -> str:
        """Sorted set: conversation ids by opening time."""
        return self.prefix + TEMPLATES["lead_conversations"].format(lead_id)

    @property
    def chats(self) -> str:
        """Hash: ``<instance_id>|<chat jid>`` → the chat's current conversation id."""
        return self.prefix + TEMPLATES["chats"]

    def conversation(self, conv_id: str) -> str:
        """Hash: id, lead_id, instance_id, chat_jid, status, title, unread, counts, last activity."""
        return self.prefix + TEMPLATES["conversation"].format(conv_id)

    def conversation_messages(self, conv_id: str) -> str:
        """Sorted set: message ids by WhatsApp timestamp (ms)."""
        return self.prefix + TEMPLATES["conversation_messages"].format(conv_id)

    @property
    def inbox(self) -> str:
        """Sorted set: conversation ids by last activity (ms)."""
        return self.prefix + TEMPLATES["inbox"]

    def message(self, message_id: str) -> str:
        """String: the message record as JSON."""
        return self.prefix + TEMPLATES["message"].format(message_id)

    def wa_message(self, instance_id: str, wa_id: str) -> str:
        """String: WhatsApp message id → our message id. Deduplication and receipt lookup."""
        return self.prefix + TEMPLATES["wa_message"].format(instance_id, wa_id)

    def early_events(self, instance_id: str, wa_id: str) -> str:
        """List: JSON receipts, edits, reactions and deletions for a message not stored yet, applied
        when it arrives (TTL ``EARLY_EVENTS_TTL``)."""
        return self.prefix + TEMPLATES["early_events"].format(instance_id, wa_id)

    def daily(self, day: str) -> str:
        """Hash: counters for one local day (inbound, outbound, new_leads, …), TTL ``DAILY_COUNTER_TTL``."""
        return self.prefix + TEMPLATES["daily"].format(day)

    @property
    def metrics_totals(self) -> str:
        """Hash: the daily counters summed over every day up to and including ``through`` (a local
        day, two days ago at most: later days may still be counted), for ``GET /api/v1/metrics``."""
        return self.prefix + TEMPLATES["metrics_totals"]

    @property
    def dead_letters(self) -> str:
        """List, newest first: JSON records of QStash failure callbacks (capped at ``DEAD_LETTERS_KEPT``)."""
        return self.prefix + TEMPLATES["dead_letters"]

    def dead_letter_seen(self, dlq_id: str) -> str:
        """String: set once the failures function recorded this dead letter (TTL ``DEAD_LETTER_SEEN_TTL``)."""
        return self.prefix + TEMPLATES["dead_letter_seen"].format(dlq_id)

    @property
    def campaigns(self) -> str:
        """Sorted set: campaign ids by creation time (ms)."""
        return self.prefix + TEMPLATES["campaigns"]

    @property
    def campaigns_ended(self) -> str:
        """Sorted set: campaigns completed or cancelled, by that time (ms), whose recipients retention
        has yet to delete (their list, marks and held sends, once older than the messages kept)."""
        return self.prefix + TEMPLATES["campaigns_ended"]

    def campaign(self, campaign_id: str) -> str:
        """Hash: a campaign's settings, status, fan-out cursor and counters (``n:<counter>``; campaigns/view.py)."""
        return self.prefix + TEMPLATES["campaign"].format(campaign_id)

    def campaign_recipients(self, campaign_id: str) -> str:
        """List: the campaign's recipients as JSON, in fan-out order (a filter's, once resolved). A list
        still being written (``:to:<token>``) lives a day at most; the campaign's own lives with it."""
        return self.prefix + TEMPLATES["campaign_recipients"].format(campaign_id)

    def campaign_staged(self, campaign_id: str, token: str) -> str:
        """List: a filter's recipients while they are being resolved (renamed to ``campaign_recipients``
        in one step once complete, so a retried resolution never mixes two; TTL one day)."""
        return self.prefix + TEMPLATES["campaign_staged"].format(campaign_id, token)

    def campaign_marks(self, campaign_id: str) -> str:
        """Hash: ``<counter>:<recipient index or message/lead id>`` → 1, so each recipient moves each
        counter once however often a job or a webhook is delivered (``t``: its outcome)."""
        return self.prefix + TEMPLATES["campaign_marks"].format(campaign_id)

    def campaign_held(self, campaign_id: str) -> str:
        """Set: ``<index>|<chat jid>`` of sends that arrived while the campaign was paused (resume re-queues them)."""
        return self.prefix + TEMPLATES["campaign_held"].format(campaign_id)

    @property
    def outbox(self) -> str:
        """Sorted set: outbound messages stored but whose send job QStash has not confirmed (ms).
        Removed once the publish succeeds; the sweeper re-publishes what stays."""
        return self.prefix + TEMPLATES["outbox"]

    @property
    def timers(self) -> str:
        """Sorted set: timers to publish (``timer_member``), by when they must be in QStash (ms).
        Removed once published and armed; the sweeper re-publishes what stays."""
        return self.prefix + TEMPLATES["timers"]

    @property
    def retention_index(self) -> str:
        """Sorted set: conversation id → WhatsApp time (ms) of its oldest message, fed from the inbox by
        the retention job: the conversations whose messages may outlive the retention period."""
        return self.prefix + TEMPLATES["retention_index"]

    @property
    def retention_state(self) -> str:
        """Hash: the retention job's place (``indexed_through``, ``feed_from``, the alias scan's
        ``alias_cursor`` and ``alias_debt``) and ``last_run`` as JSON (store/retention.py)."""
        return self.prefix + TEMPLATES["retention_state"]

    def owner_message(self, key: str) -> str:
        """String: ``sending|<ms>`` while a message to the owner is being sent, then ``sent`` (TTL 2 days)."""
        return self.prefix + TEMPLATES["owner_message"].format(key)

    @property
    def ai_knowledge(self) -> str:
        """Hash: knowledge entry id → JSON {id, question, answer, status (pending|approved|rejected), …}."""
        return self.prefix + TEMPLATES["ai_knowledge"]

    @property
    def owner_messages(self) -> str:
        """List, newest first: the messages sent to the owner as JSON (capped), for the API and dashboard."""
        return self.prefix + TEMPLATES["owner_messages"]

    def automation_run(self, schedule: str, local_time: str) -> str:
        """String ``done``: this automation's firing (its local date and time) ran; a QStash retry
        after the 10-minute deduplication window finds it and does nothing (TTL ``AUTOMATION_RUN_TTL``)."""
        return self.prefix + TEMPLATES["automation_run"].format(schedule, local_time)

    @property
    def automation_marks(self) -> str:
        """Hash: per-lead markers of the automations (``birthday:<lead>`` → year, ``inactive:<lead>`` → ms);
        one field per lead and automation at most, so it grows with the leads and no further."""
        return self.prefix + TEMPLATES["automation_marks"]

    def notify_mark(self, cause: str, subject: str) -> str:
        """String: a notification of ``cause`` about ``subject`` (a conversation or an instance) was sent
        this hour; its value names the trigger (SET NX, TTL ``NOTIFY_MARK_TTL``)."""
        return self.prefix + TEMPLATES["notify_mark"].format(cause, subject)

    def send_failures(self, instance_id: str) -> str:
        """Sorted set: the instance's failed sends of the last minutes (ms), for the burst notification
        (TTL ``SEND_FAILURES_TTL``, trimmed on each write)."""
        return self.prefix + TEMPLATES["send_failures"].format(instance_id)

    def contact_sync(self, instance_id: str) -> str:
        """Hash: the instance's contact sync (store/contacts.py): run, status (running|done), offset (the
        next batch's cursor, saved after each batch), started_at, finished_at, batches and counters."""
        return self.prefix + TEMPLATES["contact_sync"].format(instance_id)

    def contact_digests(self, instance_id: str) -> str:
        """Hash: chat JID → digest of the name, picture and labels the contact sync last applied to its lead
        (one field per lead of the instance): an unchanged contact costs no write."""
        return self.prefix + TEMPLATES["contact_digests"].format(instance_id)

    @property
    def unknown_events(self) -> str:
        """Hash: unknown UAZAPI EventType → how many were acknowledged."""
        return self.prefix + TEMPLATES["unknown_events"]

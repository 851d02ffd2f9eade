-- Store one UAZAPI event atomically, in one round trip.
-- ops: message | receipts | connection | unknown | self_chat (webhooks), auth (the relay's check),
-- and sent (UAZAPI's answer to our send).
-- Returns a JSON string.

local function reply(t)
  t.timezone = a.timezone_out
  return cjson.encode(t)
end

-- A webhook's instance must exist, the key's secret must match and so must the body's token
-- (auth with any_token: the key alone, for a body too large or malformed to carry one). This is the
-- only place an instance is authenticated: the relay and the failures function run it as op auth.
if op ~= 'sent' then
  -- prev_key_hash: the key before the last rotation, for webhooks QStash still holds for it
  if type(a.chat) ~= 'string' then a.chat = nil end  -- a receipt without its chat (cjson.null)
  local chat_jid = a.message and a.message.chat_jid or a.chat
  local inst = redis.call('HMGET', K.instance(a.instance_id), 'key_hash', 'token', 'timezone', 'prev_key_hash',
                          F.instance_chat(chat_jid or ''), 'instance_key', 'ai')
  if not inst[1] or (inst[1] ~= a.key_hash and inst[4] ~= a.key_hash) then
    return cjson.encode({error = 'unknown_instance'})
  end
  if inst[2] ~= a.token and not (op == 'auth' and a.any_token) then
    return cjson.encode({error = 'token_mismatch'})
  end
  a.timezone_out = inst[3] or 'UTC'
  a.chat_value = inst[5] or nil
  a.ai = inst[7] or nil  -- the organisation's AI is on: its reply debounce, seconds (ai/settings.py)
  -- before 0.2 the instance key itself was stored: only its digest may stay
  if inst[6] then redis.call('HDEL', K.instance(a.instance_id), 'instance_key') end
end

-- This instance's chat: <conversation>|<lead>|<early events may wait until, ms> (see store/keys.py).
local function chat_get()
  local v = a.chat_value
  if not v then return nil, nil, 0 end
  local conv, lead, early = string.match(v, '^([^|]*)|([^|]*)|?([^|]*)$')
  if not conv then return nil, nil, 0 end
  return (conv ~= '' and conv or nil), (lead ~= '' and lead or nil), tonumber(early) or 0
end

local function chat_set(chat_jid, conv_id, lead_id, early_until)
  -- %.0f: a Lua number as whole digits (tostring would write 1.796e+12)
  a.chat_value = (conv_id or '') .. '|' .. (lead_id or '') .. '|' .. string.format('%.0f', early_until or 0)
  redis.call('HSET', K.instance(a.instance_id), F.instance_chat(chat_jid), a.chat_value)
end

-- An inbound message's id follows from WhatsApp's: a duplicate finds it without an alias key.
local function inbound_id(wa_id)
  return 'msg_' .. string.sub(redis.sha1hex(a.instance_id .. ':' .. wa_id), 1, 16)
end

-- The message WhatsApp knows as wa_id: an inbound one by its own id, ours (or an early marker)
-- through its alias.
local function find_wa(wa_id)
  local rec = load(inbound_id(wa_id))
  if rec then return rec end
  local id = redis.call('GET', K.wa_message(a.instance_id, wa_id))
  return id and id ~= 'early' and load(id) or nil
end

local function conv_summary(conv_id)
  return hash(K.conversation(conv_id)) or {}
end

-- The AI work a lead's message asks for (planner.py publishes it): reading its image, voice note
-- or document, and a reply while the conversation is open and no human took it over. Never for
-- our own messages, groups or system messages (nor an opt-out or an NPS answer: the caller).
local function ai_work(rec, status, paused, is_group)
  if not a.ai or rec.direction ~= 'in' or is_group or rec.kind == 'group_event' then return nil end
  local media = (rec.kind == 'image' or rec.kind == 'audio' or rec.kind == 'document') or nil
  local reply = (status == 'open' and (paused == nil or paused == '')) or nil
  if not media and not reply then return nil end
  return {media = media, reply = reply, delay = tonumber(a.ai)}
end

-- At most n bytes of s, never splitting a UTF-8 character.
local function cut(s, n)
  if #s <= n then return s end
  local b = string.byte(s, n + 1)
  while n > 0 and b and b >= 0x80 and b < 0xC0 do
    n = n - 1
    b = string.byte(s, n + 1)
  end
  return string.sub(s, 1, n)
end

local function preview(m)
  if m.text and m.text ~= '' then return cut(m.text, 160) end
  return '[' .. m.kind .. ']'
end

local function wa_key(wa_id) return K.wa_message(a.instance_id, wa_id) end
local function early_key(wa_id) return K.early_events(a.instance_id, wa_id) end

-- An edit, reaction or deletion applied to the message it targets.
local function apply_op(rec, e)
  if e.op == 'edit' then
    rec.edits = rec.edits or {}
    table.insert(rec.edits, {text = rec.text, replaced_at = e.timestamp})
    rec.text = e.text
    rec.edited_at = e.timestamp
  elseif e.op == 'reaction' then
    rec.reactions = rec.reactions or {}
    if e.text == '' then rec.reactions[e.who] = nil else rec.reactions[e.who] = e.text end
    if next(rec.reactions) == nil then rec.reactions = nil end
  else
    rec.deleted = true
    rec.deleted_at = e.timestamp
  end
end

-- A poll vote counted on its poll: a voter's latest vote (WhatsApp time) replaces the earlier one.
local function apply_vote(poll, e)
  local votes = poll.votes or {}
  local prev = votes[e.who]
  if prev and (tonumber(prev.at) or 0) > e.timestamp then return end
  if e.text == '' then votes[e.who] = nil else votes[e.who] = {option = e.text, at = e.timestamp} end
  local tally = {}
  for _, option in ipairs(poll.media and poll.media.options or {}) do tally[option] = 0 end
  for _, v in pairs(votes) do tally[v.option] = (tally[v.option] or 0) + 1 end
  poll.votes = next(votes) and votes or nil
  poll.tally = next(tally) and tally or nil
end

-- Receipts, edits, reactions and deletions that arrived before this message.
local function apply_early(rec, wa_id)
  local key = early_key(wa_id)
  local items = redis.call('LRANGE', key, 0, -1)
  if #items == 0 then return end
  redis.call('DEL', key)
  for _, raw in ipairs(items) do
    local e = cjson.decode(raw)
    if e.status then
      if (RANK[e.status] or 0) > (RANK[rec.status] or 0) then rec.status = e.status end
    elseif e.op == 'vote' then
      apply_vote(rec, e)  -- the vote is a message of its own: its id stays its own
    else
      apply_op(rec, e)
      redis.call('SET', wa_key(e.wa_id), rec.id)
    end
  end
end

local function park(wa_id, entry)
  local key = early_key(wa_id)
  redis.call('RPUSH', key, cjson.encode(entry))
  redis.call('EXPIRE', key, a.early_ttl)
  -- the chat's messages must look for it from now on: mark the chat, whether or not it has a
  -- conversation yet (its first message may not be the one this waits for)
  local conv_id, lead_id, early = chat_get()
  local chat_jid = a.message and a.message.chat_jid or a.chat
  if type(chat_jid) == 'string' and chat_jid ~= '' and early < a.now + a.early_ttl * 1000 then
    chat_set(chat_jid, conv_id, lead_id, a.now + a.early_ttl * 1000)
  end
end

if op == 'receipts' then
  -- changed: messages this receipt moved forward; current: every message it names that we have
  local changed, current, pending, convs = {}, {}, 0, {}
  for _, wa_id in ipairs(a.ids) do
    local rec = find_wa(wa_id)
    if rec then
      local moved = RANK[a.status] > (RANK[rec.status] or 0)
      if moved then
        rec.status = a.status
        rec[a.status .. '_at'] = a.timestamp
        save(rec)
        if rec.direction == 'in' and RANK[a.status] >= RANK.read then convs[rec.conversation_id] = true end
      end
      local entry = {id = rec.id, wa_id = wa_id, status = rec.status, conversation_id = rec.conversation_id,
                     direction = rec.direction, campaign_id = rec.campaign_id}  -- campaigns/attribution.py
      table.insert(current, entry)
      if moved then table.insert(changed, entry) end
    else
      park(wa_id, {status = a.status})
      pending = pending + 1
    end
  end
  -- a read receipt on the lead's message means we read it (on the phone): nothing is unread
  for conv_id, _ in pairs(convs) do redis.call('HSET', K.conversation(conv_id), 'unread', 0) end
  return reply({outcome = 'receipts', changed = changed, current = current, pending = pending})
end

if op == 'sent' then
  -- UAZAPI accepted our send (jobs/send): the message gets WhatsApp's id and time.
  local rec = load(a.message_id)
  if not rec then return cjson.encode({error = 'no_message'}) end
  a.instance_id = rec.instance_id
  if (RANK[rec.status] or 0) < RANK.sent then
    rec.status = 'sent'
    count('sends:' .. (rec.lane or 'realtime') .. ':sent')  -- UAZAPI took it: the send's outcome, once
  end
  rec.sent_at, rec.error = a.now, nil
  if a.wa_id then
    local other = redis.call('GET', wa_key(a.wa_id))
    if not other and redis.call('EXISTS', K.message(inbound_id(a.wa_id))) == 1 then other = inbound_id(a.wa_id) end
    if other and other ~= rec.id and other ~= 'early' then
      -- its echo came first and, without our track_id, was stored as a message of its own
      local echo = load(other)
      redis.call('DEL', K.message(other))
      if echo then
        redis.call('ZREM', K.conversation_messages(echo.conversation_id), other)
        redis.call('HINCRBY', K.conversation(echo.conversation_id), 'message_count', -1)
        if (RANK[echo.status] or 0) > (RANK[rec.status] or 0) then rec.status = echo.status end
      end
    end
    redis.call('SET', wa_key(a.wa_id), rec.id)
    rec.wa_id = a.wa_id
    apply_early(rec, a.wa_id)
  end
  if a.timestamp then
    rec.timestamp = a.timestamp  -- WhatsApp's time, not the time it was queued
    redis.call('ZADD', K.conversation_messages(rec.conversation_id), a.timestamp, rec.id)
  end
  save(rec)
  return cjson.encode({outcome = 'sent', message = rec})
end

if op == 'connection' then
  redis.call('HSET', K.instance(a.instance_id), 'status', a.status, 'status_at', a.now,
             'last_disconnect_reason', a.reason or '')
  return reply({outcome = 'connection', status = a.status})
end

if op == 'unknown' then
  redis.call('HINCRBY', K.unknown_events(), a.event_type, 1)
  return reply({outcome = 'ignored'})
end

if op == 'auth' then return reply({outcome = 'authenticated'}) end

if op == 'self_chat' then
  -- the instance's own number ("message yourself"): authenticated above, stored nowhere; the
  -- owner's assistant answers it when the organisation's AI is on
  return reply({outcome = 'self_chat', ai = a.ai and true or nil})
end

-- op == 'message'
local m = a.message
local alias = wa_key(m.wa_id)
local changes = m.target and (m.kind == 'edit' or m.kind == 'reaction' or m.kind == 'revoke')
local rec_id = inbound_id(m.wa_id)
local chat_conv, chat_lead, early_until = chat_get()
local first = load(rec_id)
if first then
  count('duplicates')  -- only a duplicate pays for this command, never a new message
  local summary = conv_summary(first.conversation_id)
  -- its first delivery may have stored it but failed before publishing its AI work (deduplicated)
  return reply({outcome = 'duplicate', original = 'created', message = first, conversation = summary,
                ai = ai_work(first, summary.status, summary.ai_paused, summary.is_group == '1')})
end
-- an edit, a reaction or our own echo is kept under an alias (the message it changed, or ours)
-- (a chat not mapped yet may hold messages stored before ids followed WhatsApp's: look there too)
-- (every message of ours: its send may have been recorded under WhatsApp's id before this echo)
local existing = (changes or m.from_me or not chat_conv) and redis.call('GET', alias) or nil
if existing then
  local rec = load(existing)
  -- what the first delivery published: the message itself, or a change to another one
  local original = rec and rec.wa_id == m.wa_id and rec.track_id ~= rec.id and 'created' or 'updated'
  local echo = rec and rec.wa_id == m.wa_id and rec.track_id == rec.id  -- our own send coming back
  if not echo then count('duplicates') end
  return reply({outcome = 'duplicate', original = original, message = rec,
                conversation = rec and conv_summary(rec.conversation_id)})
end

-- The echo of our own API send carries our message id as track_id: link it, store nothing new.
if m.from_me and m.track_id then
  local own = load(m.track_id)
  if own and own.instance_id == a.instance_id then
    redis.call('SET', alias, own.id)
    own.wa_id = m.wa_id
    if (RANK[own.status] or 0) < RANK.sent then
      own.status = 'sent'
      count('sends:' .. (own.lane or 'realtime') .. ':sent')  -- its echo came before the send job's record
    end
    own.timestamp = m.timestamp  -- WhatsApp's time, not the time it was queued
    redis.call('ZADD', K.conversation_messages(own.conversation_id), m.timestamp, own.id)
    apply_early(own, m.wa_id)
    save(own)
    return reply({outcome = 'echo', message = own, conversation = conv_summary(own.conversation_id)})
  end
end

-- Edits, reactions and deletions change the message they target; one that comes first waits.
if changes then
  local e = {op = m.kind, text = m.text, timestamp = m.timestamp, wa_id = m.wa_id,
             who = m.from_me and 'me' or (m.sender_phone or m.phone or 'lead')}
  local rec = find_wa(m.target)
  if not rec then
    park(m.target, e)
    redis.call('SET', alias, 'early', 'EX', a.early_ttl)
    return reply({outcome = 'parked'})
  end
  apply_op(rec, e)
  save(rec)
  redis.call('SET', alias, rec.id)
  if m.kind == 'edit' then  -- the latest message edited: the inbox shows the new text
    local conv_key = K.conversation(rec.conversation_id)
    if rec.timestamp >= (tonumber(redis.call('HGET', conv_key, 'last_message_at')) or 0) then
      redis.call('HSET', conv_key, 'preview', preview(rec))
    end
  end
  return reply({outcome = 'updated', message = rec, conversation = conv_summary(rec.conversation_id)})
end

-- The lead: one per phone (or per LID when WhatsApp hides the phone); groups have none.
local lead_id, new_lead = chat_lead, false
if not m.is_group and not lead_id then
  local ident = m.phone and m.phone or F.lead_lid(m.lid or m.chat_jid)
  lead_id = redis.call('HGET', K.lead_index(), ident)
  if not lead_id and m.phone and m.lid then
    lead_id = redis.call('HGET', K.lead_index(), F.lead_lid(m.lid))
    if lead_id then
      redis.call('HSET', K.lead_index(), ident, lead_id)
      redis.call('HSET', K.lead(lead_id), 'phone', m.phone)
    end
  end
  if not lead_id then
    lead_id, new_lead = a.new_lead_id, true
    if m.phone and m.lid then
      redis.call('HSET', K.lead_index(), ident, lead_id, F.lead_lid(m.lid), lead_id)
    else
      redis.call('HSET', K.lead_index(), ident, lead_id)
    end
    redis.call('HSET', K.lead(lead_id), 'id', lead_id, 'phone', m.phone or '', 'lid', m.lid or '',
               'name', m.contact_name or '', 'instance_id', a.instance_id, 'chat_jid', m.chat_jid,
               'created_at', a.now, 'first_message_at', m.timestamp, 'counted_day', a.day)
    count('new_leads')
  end
end

-- The conversation: the chat's current one, or a new one when there is none or the lead writes
-- again after it was closed. A vote on an NPS survey goes to the conversation that asked.
local conv_id = chat_conv
if not conv_id then  -- a chat first seen, or mapped before 0.2 in the org's chats hash
  conv_id = redis.call('HGET', K.chats(), F.chat(a.instance_id, m.chat_jid)) or nil
end
-- The message a vote or a choice answers (a poll, a list, an NPS survey), when we have it.
local answered = nil
if m.target and (m.kind == 'poll_vote' or m.nps_score ~= nil) then
  answered = find_wa(m.target)
end
if m.nps_score ~= nil and answered and answered.author == 'nps' and not m.from_me then
  conv_id = answered.conversation_id
end
local poll = m.kind == 'poll_vote' and answered or nil  -- its tally counts this vote
-- membership changes and the like: shown in the conversation, never unread, counted or answered
local system = m.kind == 'group_event'

local fields = {}
local c = {}
local nps_answer = false
if conv_id then
  local v = redis.call('HMGET', K.conversation(conv_id), 'status', 'last_message_at', 'unread', 'message_count',
                       'title', 'last_inbound_at', 'last_outbound_at', 'followup_epoch', 'followup_qstash_id',
                       'lead_lid', 'opened_at', 'opened_day', 'lead_phone', 'ai_paused', 'campaign_id')
  -- a missing field is false in Lua: "or nil" keeps it out of the answer (cjson would say false)
  c = {status = v[1], last = tonumber(v[2]) or 0, unread = tonumber(v[3]) or 0, count = tonumber(v[4]) or 0,
       title = v[5] or nil, last_in = tonumber(v[6]) or 0, last_out = tonumber(v[7]) or 0,
       epoch = tonumber(v[8]) or 0, followup = v[9] or nil, lead_lid = v[10] or nil,
       opened_at = tonumber(v[11]), opened_day = v[12] or nil, lead_phone = v[13] or nil, ai_paused = v[14] or nil,
       campaign_id = v[15] or nil}  -- a campaign's message awaits the lead's first reply (campaigns/attribution.py)
  -- the lead's answer to an NPS survey belongs to the closed conversation that asked
  nps_answer = c.status == 'awaiting_nps' and m.nps_score ~= nil and not m.from_me
  if c.status ~= 'open' and not m.from_me and not nps_answer and not system then conv_id = nil end
end
local new_conv = false
if not conv_id then
  conv_id, new_conv = a.new_conv_id, true
  c = {status = 'open', last = 0, unread = 0, count = 0, last_in = 0, last_out = 0, epoch = 0}
  chat_set(m.chat_jid, conv_id, lead_id, early_until)
  if lead_id then redis.call('ZADD', K.lead_conversations(lead_id), m.timestamp, conv_id) end
  for k, v in pairs({id = conv_id, lead_id = lead_id or '', instance_id = a.instance_id, chat_jid = m.chat_jid,
                     is_group = m.is_group and 1 or 0, status = 'open', opened_at = m.timestamp,
                     opened_day = a.day, created_at = a.now}) do
    table.insert(fields, k); table.insert(fields, v)
  end
  count('new_conversations')
end
local function put(k, v) table.insert(fields, k); table.insert(fields, v) end

-- Take one back from the day a count went to (unless that day's counters expired), and count it today.
local function move_count(field, from_day)
  if not from_day or from_day == a.day then return end
  local key = K.daily(from_day)
  if redis.call('HEXISTS', key, field) == 1 then redis.call('HINCRBY', key, field, -1) end
  count(field)
end

-- Out of order: a message older than the conversation's first opens it (and its lead) on its own day.
if not new_conv and c.opened_at and m.timestamp < c.opened_at then
  put('opened_at', m.timestamp); put('opened_day', a.day)
  move_count('new_conversations', c.opened_day)
  if lead_id then
    redis.call('ZADD', K.lead_conversations(lead_id), m.timestamp, conv_id)
    local lead_key = K.lead(lead_id)
    local first = redis.call('HMGET', lead_key, 'first_message_at', 'counted_day')
    if m.timestamp < (tonumber(first[1]) or 0) then
      redis.call('HSET', lead_key, 'first_message_at', m.timestamp, 'counted_day', a.day)
      move_count('new_leads', first[2] or nil)
    end
  end
end

-- A lead first known by phone learns its LID, and one first known by LID its phone, once per
-- conversation (the conversation remembers what its lead is indexed by).
if lead_id and m.lid and c.lead_lid ~= m.lid then
  if not new_lead then  -- a new lead was indexed by both when it was created
    redis.call('HSETNX', K.lead_index(), F.lead_lid(m.lid), lead_id)
    redis.call('HSET', K.lead(lead_id), 'lid', m.lid)
  end
  put('lead_lid', m.lid)
end
if lead_id and m.phone and c.lead_phone ~= m.phone then
  if not new_lead and redis.call('HSETNX', K.lead_index(), m.phone, lead_id) == 1 then
    redis.call('HSET', K.lead(lead_id), 'phone', m.phone)
  end
  put('lead_phone', m.phone)
end

-- Someone answered from the phone (not through the API): a human has the conversation, the AI steps back.
if m.from_me and not m.sent_by_api and not system and a.ai and not c.ai_paused then put('ai_paused', 'phone') end

-- Any word from the lead makes pending follow-ups stale (a new epoch), and cancels the armed one.
local cancel = nil
if not m.from_me and not system then
  put('followup_epoch', c.epoch + 1)
  if c.followup and c.followup ~= '' then cancel = c.followup; put('followup_qstash_id', '') end
end
if nps_answer then
  put('nps_score', m.nps_score); put('nps_state', 'answered'); put('nps_answered_at', a.now); put('status', 'closed')
  c.status = 'closed'
  count('nps_responses'); count('nps_score_sum', m.nps_score)
  count(m.nps_score >= 9 and 'nps_promoters' or (m.nps_score <= 6 and 'nps_detractors' or 'nps_passives'))
end
if m.opt_out and lead_id then
  redis.call('HSET', K.lead(lead_id), 'opted_out', 1, 'opted_out_at', a.now, 'opted_out_reason', 'keyword')
  count('opt_outs')
end

-- The message itself, with whatever arrived before it.
local direction = m.from_me and 'out' or 'in'
local rec = {
  id = rec_id, conversation_id = conv_id, lead_id = lead_id, instance_id = a.instance_id,
  wa_id = m.wa_id, direction = direction, kind = m.kind, text = m.text, timestamp = m.timestamp,
  status = m.from_me and 'sent' or 'received', sent_by_api = m.sent_by_api, media = m.media, quoted = m.quoted,
  target = m.target, vote = m.vote, option_id = m.option_id, sender_phone = m.sender_phone,
  sender_name = m.sender_name, track_id = m.track_id, created_at = a.now,
}
if new_conv or not a.chat_value or early_until > a.now then apply_early(rec, m.wa_id) end
save(rec)
redis.call('ZADD', K.conversation_messages(conv_id), m.timestamp, rec.id)
if not new_conv and (not chat_conv or chat_lead ~= lead_id) then chat_set(m.chat_jid, conv_id, lead_id, early_until) end
if m.kind == 'poll_vote' and m.target then
  local vote = {op = 'vote', text = m.vote or m.text or '', timestamp = m.timestamp, wa_id = m.wa_id,
                who = m.from_me and 'me' or (m.sender_phone or m.phone or m.lid or 'lead')}
  if poll then apply_vote(poll, vote); save(poll) else park(m.target, vote) end
end

-- Conversation counters and inbox order, in one write.
local title = m.is_group and m.group_name or m.contact_name
if title and title ~= c.title then
  put('title', title)
  if lead_id and not new_lead then
    -- a name an operator set (the lead's ``edited`` list, store/leads.py) is theirs: WhatsApp's does not replace it
    local edited = redis.call('HGET', K.lead(lead_id), 'edited')
    if not (edited and string.find(edited, '"name"', 1, true)) then redis.call('HSET', K.lead(lead_id), 'name', title) end
  end
end
put('message_count', c.count + 1)
if m.timestamp >= c.last then
  put('last_message_at', m.timestamp); put('preview', preview(rec))
  if not system then put('last_direction', direction) end
end
local unread = c.unread
if m.from_me then
  if m.timestamp > c.last_out then put('last_outbound_at', m.timestamp) end
elseif not system then
  unread = c.unread + 1
  put('unread', unread)
  if m.timestamp > c.last_in then put('last_inbound_at', m.timestamp) end
end
redis.call('HSET', K.conversation(conv_id), unpack(fields))
redis.call('ZADD', K.inbox(), 'GT', m.timestamp, conv_id)
if not system then count(direction == 'in' and 'inbound' or 'outbound', 1, true) end

local conv = {id = conv_id, lead_id = lead_id, instance_id = a.instance_id, status = c.status,
              title = title or c.title, unread = unread,
              message_count = c.count + 1, last_message_at = math.max(c.last, m.timestamp),
              campaign_id = c.campaign_id}
return reply({outcome = 'stored', message = rec, conversation = conv, new_lead = new_lead,
              new_conversation = new_conv, cancel = cancel, nps_score = nps_answer and m.nps_score or nil,
              opted_out = m.opt_out and lead_id and true or nil, poll = poll,
              ai = not nps_answer and not m.opt_out and ai_work(rec, c.status, c.ai_paused, m.is_group) or nil})

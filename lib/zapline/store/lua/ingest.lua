-- Store one UAZAPI event atomically, in one round trip.
-- KEYS[1] = zl:{org}:org (key names: see store/keys.py); ARGV[1] = op; ARGV[2] = JSON arguments.
-- ops: message | receipts | connection | unknown. Returns a JSON string.
local P = string.sub(KEYS[1], 1, -4)
local op = ARGV[1]
local a = cjson.decode(ARGV[2])
local RANK = {pending = 0, failed = 0, sent = 1, received = 1, delivered = 2, read = 3, played = 4}

local function reply(t)
  t.timezone = a.timezone_out
  return cjson.encode(t)
end

-- The instance must exist, the key's secret must match and so must the body's token.
local inst = redis.call('HMGET', P .. 'instance:' .. a.instance_id, 'key_hash', 'token', 'timezone')
if not inst[1] or inst[1] ~= a.key_hash then
  return cjson.encode({error = 'unknown_instance'})
end
if inst[2] ~= a.token then
  return cjson.encode({error = 'token_mismatch'})
end
a.timezone_out = inst[3] or 'UTC'

local function count(field, n)
  local key = P .. 'day:' .. a.day
  if redis.call('HINCRBY', key, field, n or 1) == (n or 1) then
    redis.call('EXPIRE', key, a.day_ttl)
  end
end

local function conv_summary(conv_id)
  local c = redis.call('HGETALL', P .. 'conv:' .. conv_id)
  local t = {}
  for i = 1, #c, 2 do t[c[i]] = c[i + 1] end
  return t
end

local function load(msg_id)
  local raw = redis.call('GET', P .. 'msg:' .. msg_id)
  return raw and cjson.decode(raw)
end

local function save(rec)
  redis.call('SET', P .. 'msg:' .. rec.id, cjson.encode(rec))
end

local function preview(m)
  if m.text and m.text ~= '' then return string.sub(m.text, 1, 160) end
  return '[' .. m.kind .. ']'
end

if op == 'receipts' then
  -- changed: messages this receipt moved forward; current: every message it names that we have
  -- (a retried delivery re-publishes those, since the first attempt already changed them).
  local changed, current, pending, convs = {}, {}, 0, {}
  for _, wa_id in ipairs(a.ids) do
    local msg_id = redis.call('GET', P .. 'wa:' .. a.instance_id .. ':' .. wa_id)
    local rec = msg_id and load(msg_id)
    if rec then
      local moved = RANK[a.status] > (RANK[rec.status] or 0)
      if moved then
        rec.status = a.status
        rec[a.status .. '_at'] = a.timestamp
        save(rec)
        if rec.direction == 'in' and RANK[a.status] >= RANK.read then convs[rec.conversation_id] = true end
      end
      local entry = {id = rec.id, wa_id = wa_id, status = rec.status, conversation_id = rec.conversation_id,
                     direction = rec.direction}
      table.insert(current, entry)
      if moved then table.insert(changed, entry) end
    else
      local key = P .. 'rcpt:' .. a.instance_id .. ':' .. wa_id
      local seen = redis.call('GET', key)
      if not seen or RANK[a.status] > (RANK[seen] or 0) then
        redis.call('SET', key, a.status, 'EX', a.rcpt_ttl)
      end
      pending = pending + 1
    end
  end
  -- a read receipt on the lead's message means we read it (on the phone): nothing is unread
  for conv_id, _ in pairs(convs) do redis.call('HSET', P .. 'conv:' .. conv_id, 'unread', 0) end
  return reply({outcome = 'receipts', changed = changed, current = current, pending = pending})
end

if op == 'connection' then
  redis.call('HSET', P .. 'instance:' .. a.instance_id, 'status', a.status, 'status_at', a.now,
             'last_disconnect_reason', a.reason or '')
  return reply({outcome = 'connection', status = a.status})
end

if op == 'unknown' then
  redis.call('HINCRBY', P .. 'events:unknown', a.event_type, 1)
  return reply({outcome = 'ignored'})
end

-- op == 'message'
local m = a.message
local alias = P .. 'wa:' .. a.instance_id .. ':' .. m.wa_id
local existing = redis.call('GET', alias)
if existing then
  local rec = load(existing)
  return reply({outcome = 'duplicate', message = rec, conversation = rec and conv_summary(rec.conversation_id)})
end

-- The echo of our own API send carries our message id as track_id: link it, store nothing new.
if m.from_me and m.track_id then
  local own = load(m.track_id)
  if own and own.instance_id == a.instance_id then
    redis.call('SET', alias, own.id)
    own.wa_id = m.wa_id
    if (RANK[own.status] or 0) < RANK.sent then own.status = 'sent' end
    save(own)
    return reply({outcome = 'echo', message = own, conversation = conv_summary(own.conversation_id)})
  end
end

-- Edits, reactions and deletions change the message they target, when we have it.
if m.target and (m.kind == 'edit' or m.kind == 'reaction' or m.kind == 'revoke') then
  local target_id = redis.call('GET', P .. 'wa:' .. a.instance_id .. ':' .. m.target)
  local rec = target_id and load(target_id)
  if rec then
    if m.kind == 'edit' then
      rec.edits = rec.edits or {}
      table.insert(rec.edits, {text = rec.text, replaced_at = m.timestamp})
      rec.text = m.text
      rec.edited_at = m.timestamp
    elseif m.kind == 'reaction' then
      rec.reactions = rec.reactions or {}
      local who = m.from_me and 'me' or (m.sender_phone or m.phone or 'lead')
      if m.text == '' then rec.reactions[who] = nil else rec.reactions[who] = m.text end
      if next(rec.reactions) == nil then rec.reactions = nil end
    else
      rec.deleted = true
      rec.deleted_at = m.timestamp
    end
    save(rec)
    redis.call('SET', alias, rec.id)
    return reply({outcome = 'updated', message = rec, conversation = conv_summary(rec.conversation_id)})
  end
end

-- The lead: one per phone (or per LID when WhatsApp hides the phone); groups have none.
local lead_id, new_lead = nil, false
if not m.is_group then
  local ident = m.phone and m.phone or ('lid:' .. (m.lid or m.chat_jid))
  lead_id = redis.call('HGET', P .. 'leads:phone', ident)
  if not lead_id and m.phone and m.lid then
    lead_id = redis.call('HGET', P .. 'leads:phone', 'lid:' .. m.lid)
    if lead_id then
      redis.call('HSET', P .. 'leads:phone', ident, lead_id)
      redis.call('HSET', P .. 'lead:' .. lead_id, 'phone', m.phone)
    end
  end
  if not lead_id then
    lead_id, new_lead = a.new_lead_id, true
    if m.phone and m.lid then
      redis.call('HSET', P .. 'leads:phone', ident, lead_id, 'lid:' .. m.lid, lead_id)
    else
      redis.call('HSET', P .. 'leads:phone', ident, lead_id)
    end
    redis.call('HSET', P .. 'lead:' .. lead_id, 'id', lead_id, 'phone', m.phone or '', 'lid', m.lid or '',
               'name', m.contact_name or '', 'instance_id', a.instance_id, 'chat_jid', m.chat_jid,
               'created_at', a.now)
    count('new_leads')
  end
end

-- The conversation: the chat's current one, or a new one when there is none or the lead writes
-- again after it was closed.
local chat_field = a.instance_id .. '|' .. m.chat_jid
local conv_id = redis.call('HGET', P .. 'chats', chat_field)
local fields = {}
local c = {}
local nps_answer = false
if conv_id then
  local v = redis.call('HMGET', P .. 'conv:' .. conv_id, 'status', 'last_message_at', 'unread', 'message_count',
                       'title', 'last_inbound_at', 'last_outbound_at', 'followup_epoch', 'followup_qstash_id')
  c = {status = v[1], last = tonumber(v[2]) or 0, unread = tonumber(v[3]) or 0, count = tonumber(v[4]) or 0,
       title = v[5], last_in = tonumber(v[6]) or 0, last_out = tonumber(v[7]) or 0,
       epoch = tonumber(v[8]) or 0, followup = v[9]}
  -- the lead's answer to an NPS survey belongs to the closed conversation that asked
  nps_answer = c.status == 'awaiting_nps' and m.nps_score ~= nil and not m.from_me
  if c.status ~= 'open' and not m.from_me and not nps_answer then conv_id = nil end
end
local new_conv = false
if not conv_id then
  conv_id, new_conv = a.new_conv_id, true
  c = {status = 'open', last = 0, unread = 0, count = 0, last_in = 0, last_out = 0, epoch = 0}
  redis.call('HSET', P .. 'chats', chat_field, conv_id)
  if lead_id then redis.call('ZADD', P .. 'lead:' .. lead_id .. ':convs', m.timestamp, conv_id) end
  for k, v in pairs({id = conv_id, lead_id = lead_id or '', instance_id = a.instance_id, chat_jid = m.chat_jid,
                     is_group = m.is_group and 1 or 0, status = 'open', opened_at = m.timestamp,
                     created_at = a.now}) do
    table.insert(fields, k); table.insert(fields, v)
  end
  count('new_conversations')
end
local function put(k, v) table.insert(fields, k); table.insert(fields, v) end

-- Any word from the lead makes pending follow-ups stale (a new epoch), and cancels the armed one.
local cancel = nil
if not m.from_me then
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
  redis.call('HSET', P .. 'lead:' .. lead_id, 'opted_out', 1, 'opted_out_at', a.now, 'opted_out_reason', 'keyword')
  count('opt_outs')
end

-- The message itself, with any receipt that came before it.
local direction = m.from_me and 'out' or 'in'
local status = m.from_me and 'sent' or 'received'
local early = redis.call('GETDEL', P .. 'rcpt:' .. a.instance_id .. ':' .. m.wa_id)
if early and (RANK[early] or 0) > RANK[status] then status = early end
local rec = {
  id = a.new_message_id, conversation_id = conv_id, lead_id = lead_id, instance_id = a.instance_id,
  wa_id = m.wa_id, direction = direction, kind = m.kind, text = m.text, timestamp = m.timestamp,
  status = status, sent_by_api = m.sent_by_api, media = m.media, quoted = m.quoted, target = m.target,
  vote = m.vote, option_id = m.option_id, sender_phone = m.sender_phone, sender_name = m.sender_name,
  track_id = m.track_id, created_at = a.now,
}
save(rec)
redis.call('SET', alias, rec.id)
redis.call('ZADD', P .. 'conv:' .. conv_id .. ':msgs', m.timestamp, rec.id)

-- Conversation counters and inbox order, in one write.
local title = m.is_group and m.group_name or m.contact_name
if title and title ~= c.title then
  put('title', title)
  if lead_id and not new_lead then redis.call('HSET', P .. 'lead:' .. lead_id, 'name', title) end
end
put('message_count', c.count + 1)
if m.timestamp >= c.last then
  put('last_message_at', m.timestamp); put('preview', preview(m)); put('last_direction', direction)
end
if m.from_me then
  if m.timestamp > c.last_out then put('last_outbound_at', m.timestamp) end
else
  put('unread', c.unread + 1)
  if m.timestamp > c.last_in then put('last_inbound_at', m.timestamp) end
end
redis.call('HSET', P .. 'conv:' .. conv_id, unpack(fields))
redis.call('ZADD', P .. 'inbox', 'GT', m.timestamp, conv_id)
count(direction == 'in' and 'inbound' or 'outbound')

local conv = {id = conv_id, lead_id = lead_id, instance_id = a.instance_id, status = c.status,
              title = title or c.title, unread = m.from_me and c.unread or c.unread + 1,
              message_count = c.count + 1, last_message_at = math.max(c.last, m.timestamp)}
return reply({outcome = 'stored', message = rec, conversation = conv, new_lead = new_lead,
              new_conversation = new_conv, cancel = cancel, nps_score = nps_answer and m.nps_score or nil,
              opted_out = m.opt_out and lead_id and true or nil})

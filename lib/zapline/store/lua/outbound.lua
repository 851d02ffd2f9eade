-- Outbound messages: create (pending) → claim (sending, by jobs/send) → sent (ingest.lua) | failed.

if op == 'create' then
  local conv_key = K.conversation(a.conversation_id)
  local c = redis.call('HMGET', conv_key, 'id', 'lead_id', 'instance_id', 'chat_jid', 'message_count',
                       'last_message_at', 'followup_qstash_id')
  if not c[1] then return cjson.encode({error = 'no_conversation'}) end
  local existing = load(a.message.id)
  if existing then return cjson.encode({outcome = 'existing', message = existing}) end
  if opted_out(c[2]) then return cjson.encode({error = 'opted_out'}) end
  local m = a.message
  local rec = {id = m.id, conversation_id = a.conversation_id, lead_id = c[2] ~= '' and c[2] or nil,
               instance_id = c[3], chat_jid = c[4], direction = 'out', kind = m.kind, text = m.text or '',
               media = m.media, choices = m.choices, lane = m.lane, timestamp = a.now, status = 'pending',
               sent_by_api = true, track_id = m.id, created_at = a.now, author = m.author,
               guard_epoch = m.guard_epoch, campaign_id = m.campaign_id}
  save(rec)
  redis.call('ZADD', K.conversation_messages(a.conversation_id), a.now, rec.id)
  redis.call('ZADD', K.outbox(), a.now, rec.id)  -- until QStash confirms its send job
  local preview = rec.text ~= '' and a.preview or ('[' .. rec.kind .. ']')
  local fields = {'message_count', (tonumber(c[5]) or 0) + 1, 'last_outbound_at', a.now}
  if m.lane == 'realtime' then table.insert(fields, 'unread'); table.insert(fields, 0) end  -- an operator answered
  if a.now >= (tonumber(c[6]) or 0) then
    for _, v in ipairs({'last_message_at', a.now, 'preview', preview, 'last_direction', 'out'}) do
      table.insert(fields, v)
    end
  end
  local reply = {outcome = 'created', message = rec}
  if a.restart_followups then
    -- our message starts a new silence: the previous follow-up chain is stale from now on
    reply.followup_epoch = redis.call('HINCRBY', conv_key, 'followup_epoch', 1)
    reply.cancel = c[7]
    redis.call('HDEL', conv_key, 'followup_qstash_id')
    -- until its first step is published and armed
    redis.call('ZADD', K.timers(), a.now, F.timer_followup(a.conversation_id, reply.followup_epoch))
  end
  redis.call('HSET', conv_key, unpack(fields))
  redis.call('ZADD', K.inbox(), 'GT', a.now, a.conversation_id)
  count('outbound', 1, true)
  count('sends:' .. (m.lane or 'realtime') .. ':queued')  -- sends by lane and outcome: admin/metrics.py
  return cjson.encode(reply)
end

local rec = load(a.message_id)
if not rec then return cjson.encode({error = 'no_message'}) end

if op == 'claim' then
  if rec.status ~= 'pending' and rec.status ~= 'sending' then
    return cjson.encode({outcome = 'done', message = rec})
  end
  -- another attempt holds the message: wait for it rather than risk sending twice
  if rec.status == 'sending' and (rec.lease_until or 0) > a.now then
    return cjson.encode({outcome = 'busy', retry_after_ms = rec.lease_until - a.now, message = rec})
  end
  local function finish(status, error)
    rec.status, rec.error = status, error
    save(rec)
    count('sends:' .. (rec.lane or 'realtime') .. ':' .. (error == 'opted_out' and 'opted_out' or status))
    return cjson.encode({outcome = status, message = rec})
  end
  if opted_out(rec.lead_id) then return finish('failed', 'opted_out') end
  if rec.guard_epoch then
    -- a follow-up: only while nothing happened since its step fired
    local conv = redis.call('HMGET', K.conversation(rec.conversation_id), 'followup_epoch', 'status')
    if (tonumber(conv[1]) or 0) ~= rec.guard_epoch or conv[2] ~= 'open' then
      return finish('cancelled', 'the conversation moved on before the follow-up was sent')
    end
  end
  -- the lane's pause flag comes with the credentials: holding a paused lane costs no extra command
  local inst = redis.call('HMGET', K.instance(rec.instance_id), 'token', 'base_url',
                          F.lane_paused(rec.lane or 'realtime'))
  if inst[3] then
    return cjson.encode({outcome = 'paused', message = rec, paused = inst[3]})
  end
  local was_sending = rec.status == 'sending'
  rec.status = 'sending'
  rec.attempts = (rec.attempts or 0) + 1
  rec.lease_until = a.now + a.lease_ms
  save(rec)
  return cjson.encode({outcome = 'claimed', message = rec, was_sending = was_sending, token = inst[1],
                       base_url = inst[2]})
end

if op == 'release' then
  -- UAZAPI answered that it did not send (429, 5xx): the next attempt need not wait or search
  if rec.status == 'sending' then
    rec.status, rec.lease_until = 'pending', nil
    save(rec)
    count('sends:' .. (rec.lane or 'realtime') .. ':deferred')
  end
  return cjson.encode({outcome = 'released', message = rec})
end

if op == 'failed' then
  -- a message already failed keeps its first reason (opted_out, UAZAPI's refusal)
  if (RANK[rec.status] or 0) < RANK.sent and rec.status ~= 'failed' then
    rec.status, rec.error = 'failed', a.error
    save(rec)
    count('sends:' .. (rec.lane or 'realtime') .. ':failed')
  end
  return cjson.encode({outcome = 'failed', message = rec})
end

return cjson.encode({error = 'unknown_op'})

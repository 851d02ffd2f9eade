-- Conversation state machine for automations: close, follow-ups, NPS surveys, opt-out.
-- Every op is idempotent: QStash may deliver a job twice, or after the state moved on.

-- Stop the conversation's follow-up chain: later steps see a new epoch and do nothing.
local function stop_followups(conv_key, conv)
  redis.call('HINCRBY', conv_key, 'followup_epoch', 1)
  redis.call('HDEL', conv_key, 'followup_qstash_id')
  return conv.followup_qstash_id
end

if op == 'opt_out' then
  local lead_key = K.lead(a.lead_id)
  if redis.call('EXISTS', lead_key) == 0 then return cjson.encode({error = 'no_lead'}) end
  local cancel = {}
  if redis.call('HGET', lead_key, 'opted_out') ~= '1' then
    redis.call('HSET', lead_key, 'opted_out', 1, 'opted_out_at', a.now, 'opted_out_reason', a.reason)
    count('opt_outs')
  end
  for _, conv_id in ipairs(redis.call('ZRANGE', K.lead_conversations(a.lead_id), 0, -1)) do
    local conv_key = K.conversation(conv_id)
    local id = redis.call('HGET', conv_key, 'followup_qstash_id')
    if id then table.insert(cancel, stop_followups(conv_key, {followup_qstash_id = id})) end
  end
  return cjson.encode({outcome = 'opted_out', cancel = cancel})
end

local conv_key = K.conversation(a.conversation_id)
local conv = hash(conv_key)
if not conv then return cjson.encode({error = 'no_conversation'}) end
local epoch = tonumber(conv.followup_epoch) or 0

if op == 'close' then
  if conv.status ~= 'open' then return cjson.encode({outcome = 'already_closed', conversation = conv}) end
  local cancel = stop_followups(conv_key, conv)
  local fields = {'status', 'closed', 'closed_at', a.now, 'unread', 0}
  local nps = a.nps and (conv.nps_state or '') == '' and not opted_out(conv.lead_id) and conv.is_group ~= '1'
  if nps then
    table.insert(fields, 'nps_state'); table.insert(fields, 'scheduled')
    redis.call('ZADD', K.timers(), a.now, F.timer_nps(a.conversation_id))  -- until its job is in QStash
  end
  redis.call('HSET', conv_key, unpack(fields))
  conv.status, conv.closed_at, conv.unread = 'closed', a.now, 0
  count('closed_conversations')
  return cjson.encode({outcome = 'closed', conversation = conv, cancel = cancel, nps = nps})
end

if op == 'followup_arm' then
  redis.call('ZREM', K.timers(), F.timer_followup(a.conversation_id, a.epoch))
  if epoch ~= a.epoch then return cjson.encode({outcome = 'stale'}) end
  redis.call('HSET', conv_key, 'followup_qstash_id', a.qstash_id, 'followup_step', a.step)
  return cjson.encode({outcome = 'armed'})
end

if op == 'followup_fire' then
  -- fire only if nothing happened since the chain started: same epoch (no reply, no new message
  -- from us, not closed) and the lead still accepts automated messages
  if epoch ~= a.epoch or conv.status ~= 'open' or opted_out(conv.lead_id) then
    count('followups_stale')
    return cjson.encode({outcome = 'stale', conversation = conv})
  end
  count('followups_fired')
  redis.call('HDEL', conv_key, 'followup_qstash_id')
  local lead = conv.lead_id ~= '' and redis.call('HGET', K.lead(conv.lead_id), 'name') or nil
  return cjson.encode({outcome = 'fire', conversation = conv, lead_name = lead})
end

if op == 'nps_claim' then
  local state = conv.nps_state or ''
  if state == 'sending' and conv.status == 'awaiting_nps' then
    return cjson.encode({outcome = 'send', conversation = conv})  -- a retry: finish the same survey
  end
  if state ~= 'scheduled' or conv.status ~= 'closed' then
    return cjson.encode({outcome = 'skip', state = state})
  end
  -- the lead wrote again since the close: they are in a new conversation, not answering a survey
  local mapped = redis.call('HGET', K.instance(conv.instance_id), F.instance_chat(conv.chat_jid))
  local current = mapped and string.match(mapped, '^([^|]*)')
                  or redis.call('HGET', K.chats(), F.chat(conv.instance_id, conv.chat_jid))
  if opted_out(conv.lead_id) or current ~= a.conversation_id then
    redis.call('HSET', conv_key, 'nps_state', 'skipped')
    return cjson.encode({outcome = 'skip', state = opted_out(conv.lead_id) and 'opted_out' or 'moved_on'})
  end
  -- awaiting from now: an answer that beats the poll's own send still lands here
  redis.call('HSET', conv_key, 'nps_state', 'sending', 'status', 'awaiting_nps')
  return cjson.encode({outcome = 'send', conversation = conv})
end

if op == 'nps_sent' then
  if conv.nps_state == 'sending' then
    redis.call('HSET', conv_key, 'nps_state', 'sent', 'nps_sent_at', a.now, 'nps_message_id', a.message_id)
    count('nps_sent')
  end
  return cjson.encode({outcome = 'awaiting'})
end

if op == 'nps_expire' then
  if conv.status ~= 'awaiting_nps' then return cjson.encode({outcome = 'skip', state = conv.nps_state}) end
  redis.call('HSET', conv_key, 'status', 'closed', 'nps_state', 'expired', 'nps_expired_at', a.now)
  count('nps_expired')
  return cjson.encode({outcome = 'expired'})
end

return cjson.encode({error = 'unknown_op'})

-- Retention (store/retention.py, run by jobs/retention.py): what is older than the organisation's
-- retention period leaves in bounded batches, together with everything that names it.
--
-- K.retention_index(): conversation → WhatsApp time (ms) of its oldest message: the conversations
-- that may hold a message to delete, so a run visits those and never every conversation.
-- K.retention_state(): indexed_through (the inbox time the index was fed up to), feed_from (a feed
-- under way), fed_for (the firing whose feed is complete), alias_cursor / alias_debt /
-- alias_debt_start / alias_for (the alias scan, and the firing that began the last one), last_run.
-- Each firing (a.firing: its local time) feeds once and begins at most one alias scan, so its
-- continuation rounds never start either again.
-- ops: feed | trim | aliases | campaigns | finish. Numbers go to Redis through ms() (tostring writes 1.7e+12).

local STATE = K.retention_state()
local INDEX = K.retention_index()
-- a survey still on its way or awaiting its answer keeps its conversation (the NPS jobs read it)
local SURVEY_PENDING = {scheduled = true, sending = true, sent = true}

local function ms(n) return string.format('%.0f', n) end

-- An inbound message's id follows from WhatsApp's (as ingest.lua's inbound_id).
local function inbound_id(instance_id, wa_id)
  return 'msg_' .. string.sub(redis.sha1hex(instance_id .. ':' .. wa_id), 1, 16)
end

if op == 'feed' then
  -- Conversations active since the last feed (less a lookback, for messages WhatsApp delivered late)
  -- enter the index at their oldest message's time. ZADD LT: an entry only moves earlier here.
  local from = tonumber(redis.call('HGET', STATE, 'feed_from'))
  if not from and redis.call('HGET', STATE, 'fed_for') == a.firing then
    return cjson.encode({indexed = 0, more = false})  -- this firing's feed is complete
  end
  if not from then
    local through = tonumber(redis.call('HGET', STATE, 'indexed_through'))
    from = through and through - a.lookback_ms or nil
  end
  local rows = redis.call('ZRANGEBYSCORE', K.inbox(), from and ms(from) or '-inf', '+inf', 'WITHSCORES',
                          'LIMIT', 0, a.limit)
  local n, last = 0, nil
  for i = 1, #rows, 2 do
    local conv_id = rows[i]
    last = tonumber(rows[i + 1])
    local oldest = redis.call('ZRANGE', K.conversation_messages(conv_id), 0, 0, 'WITHSCORES')
    if #oldest == 2 then redis.call('ZADD', INDEX, 'LT', oldest[2], conv_id) end
    n = n + 1
  end
  local more = n == a.limit
  if more then
    if from and last <= from then last = from + 1 end  -- a whole page at one instant: step past it
    redis.call('HSET', STATE, 'feed_from', ms(last))
  else
    redis.call('HDEL', STATE, 'feed_from')
    redis.call('HSET', STATE, 'fed_for', a.firing)
    -- never past the run's own time: one phone with its clock in 2030 must not hide everyone else
    local through = math.min(last or from or 0, a.as_of)  -- from: where a pass's last full page ended
    if through > (tonumber(redis.call('HGET', STATE, 'indexed_through')) or 0) then
      redis.call('HSET', STATE, 'indexed_through', ms(through))
    end
  end
  return cjson.encode({indexed = n, more = more})
end

-- A conversation whose last message just left: it stays, listed with what remains (nothing), unless it
-- was closed before a.closed_before with nothing pending on it (the jobs a close starts have run), when
-- nothing of it is worth keeping (its lead stays).
local function emptied(conv_id, counts)
  local conv_key = K.conversation(conv_id)
  local c = redis.call('HMGET', conv_key, 'status', 'nps_state', 'last_message_at', 'lead_id', 'instance_id',
                       'chat_jid', 'followup_epoch', 'closed_at')
  if not c[1] then return end
  local closed = c[1] == 'closed' and not SURVEY_PENDING[c[2] or ''] and (tonumber(c[3]) or 0) < a.cutoff
                 and (tonumber(c[8]) or 0) < a.closed_before
  if closed and (redis.call('ZSCORE', K.timers(), F.timer_nps(conv_id))
                 or redis.call('ZSCORE', K.timers(), F.timer_followup(conv_id, c[7] or '0'))) then
    closed = false  -- a timer the sweeper still has to publish reads it
  end
  if not closed then
    redis.call('HSET', conv_key, 'message_count', 0)
    redis.call('HDEL', conv_key, 'preview')  -- the text of a message that no longer exists
    return
  end
  redis.call('DEL', conv_key)
  redis.call('ZREM', K.inbox(), conv_id)
  if c[4] and c[4] ~= '' then redis.call('ZREM', K.lead_conversations(c[4]), conv_id) end
  if c[5] and c[6] then
    -- the chat's next message opens a new conversation, as it would after the close; lead and
    -- early-event mark stay
    local inst_key, field = K.instance(c[5]), F.instance_chat(c[6])
    local mapped = redis.call('HGET', inst_key, field)
    local current, rest = string.match(mapped or '', '^([^|]*)(|.*)$')
    if current == conv_id then redis.call('HSET', inst_key, field, rest) end
    local legacy = F.chat(c[5], c[6])
    if redis.call('HGET', K.chats(), legacy) == conv_id then redis.call('HDEL', K.chats(), legacy) end
  end
  counts.conversations = counts.conversations + 1
end

if op == 'trim' then
  -- Messages older than a.cutoff, at most a.limit of them, from the conversations the index names.
  local counts = {messages = 0, aliases = 0, conversations = 0}
  local budget, debt, more = a.limit, 0, false
  local convs = redis.call('ZRANGEBYSCORE', INDEX, '-inf', '(' .. ms(a.cutoff), 'LIMIT', 0, a.limit)
  for _, conv_id in ipairs(convs) do
    if budget == 0 then more = true; break end
    local zkey = K.conversation_messages(conv_id)
    local ids = redis.call('ZRANGEBYSCORE', zkey, '-inf', '(' .. ms(a.cutoff), 'LIMIT', 0, budget)
    for _, id in ipairs(ids) do
      local raw = redis.call('GET', K.message(id))
      local ok, rec = pcall(cjson.decode, raw or 'null')
      if ok and type(rec) == 'table' then
        -- its WhatsApp id's alias: ours (a send), or one stored before ids followed WhatsApp's
        if type(rec.wa_id) == 'string' and type(rec.instance_id) == 'string'
           and (rec.direction == 'out' or id ~= inbound_id(rec.instance_id, rec.wa_id)) then
          local alias = K.wa_message(rec.instance_id, rec.wa_id)
          if redis.call('GET', alias) == id then
            redis.call('DEL', alias)
            counts.aliases = counts.aliases + 1
          end
        end
        if rec.direction == 'out' and (rec.status == 'pending' or rec.status == 'sending') then
          redis.call('ZREM', K.outbox(), id)
        end
        -- each edit, reaction and deletion left an alias naming this message (wa:<its WhatsApp id>),
        -- which only a scan finds: count them, so the alias scan runs once enough are orphaned
        if type(rec.edits) == 'table' then debt = debt + #rec.edits end
        if type(rec.reactions) == 'table' then
          for _ in pairs(rec.reactions) do debt = debt + 1 end
        end
        if rec.deleted == true then debt = debt + 1 end
      end
      if raw then
        redis.call('DEL', K.message(id))
        counts.messages = counts.messages + 1
      end
    end
    if #ids > 0 then redis.call('ZREM', zkey, unpack(ids)) end
    budget = budget - #ids
    local oldest = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
    if #oldest == 2 then
      redis.call('ZADD', INDEX, oldest[2], conv_id)
      if tonumber(oldest[2]) < a.cutoff then more = true end  -- the budget ran out inside it
      if #ids > 0 and redis.call('EXISTS', K.conversation(conv_id)) == 1 then
        redis.call('HSET', K.conversation(conv_id), 'message_count', redis.call('ZCARD', zkey))
      end
    else
      redis.call('ZREM', INDEX, conv_id)
      emptied(conv_id, counts)
    end
  end
  if #convs == a.limit then more = true end
  if debt > 0 then redis.call('HINCRBY', STATE, 'alias_debt', debt) end
  counts.more = more
  return cjson.encode(counts)
end

if op == 'aliases' then
  -- a.keys: alias keys a SCAN found (this organisation's wa:*); a.cursor: where the scan goes on
  -- ('0': the pass is complete). An alias naming a message that no longer exists is deleted.
  local deleted = 0
  local mine = string.sub(K.wa_message('', ''), 1, -2)  -- P .. 'wa:'
  for _, key in ipairs(a.keys) do
    if string.sub(key, 1, #mine) == mine then
      local target = redis.pcall('GET', key)
      if type(target) == 'string' and target ~= 'early' and redis.call('EXISTS', K.message(target)) == 0 then
        redis.call('DEL', key)
        deleted = deleted + 1
      end
    end
  end
  local debt = tonumber(redis.call('HGET', STATE, 'alias_debt')) or 0
  local under_way = redis.call('HEXISTS', STATE, 'alias_cursor') == 1  -- begun by an earlier call
  if not under_way then redis.call('HSET', STATE, 'alias_for', a.firing) end
  if a.cursor == '0' then
    -- done: what was owed when the pass began is paid; what trims added since waits for the next
    local owed = under_way and (tonumber(redis.call('HGET', STATE, 'alias_debt_start')) or 0) or debt
    redis.call('HSET', STATE, 'alias_debt', math.max(0, debt - owed))
    redis.call('HDEL', STATE, 'alias_cursor', 'alias_debt_start')
  else
    if not under_way then redis.call('HSET', STATE, 'alias_debt_start', debt) end
    redis.call('HSET', STATE, 'alias_cursor', a.cursor)
  end
  return cjson.encode({aliases = deleted})
end

if op == 'campaigns' then
  -- Campaigns that ended (completed or cancelled) before a.cutoff, at most a.limit: their recipients'
  -- list, per-recipient marks and held sends go (a campaign's size in Redis); the hash stays, with its
  -- counters, marked pruned_at (campaigns.lua then ignores a very late job or receipt of it).
  local ids = redis.call('ZRANGEBYSCORE', K.campaigns_ended(), '-inf', '(' .. ms(a.cutoff), 'LIMIT', 0, a.limit)
  for _, cid in ipairs(ids) do
    redis.call('UNLINK', K.campaign_recipients(cid), K.campaign_marks(cid), K.campaign_held(cid))  -- freed aside
    if redis.call('EXISTS', K.campaign(cid)) == 1 then redis.call('HSET', K.campaign(cid), 'pruned_at', ms(a.now)) end
  end
  if #ids > 0 then redis.call('ZREM', K.campaigns_ended(), unpack(ids)) end
  return cjson.encode({campaigns = #ids, more = #ids == a.limit})
end

if op == 'finish' then
  -- One round's counts added to its firing's totals, once per round (a QStash retry adds nothing).
  local raw = redis.call('HGET', STATE, 'last_run')
  local run = raw and cjson.decode(raw) or {}
  if run.local_time ~= a.local_time then
    run = {local_time = a.local_time, rounds = 0, totals = {}, started_at = a.now}
  end
  if a.round >= (run.rounds or 0) then
    for name, n in pairs(a.counts) do run.totals[name] = (run.totals[name] or 0) + n end
    run.rounds = a.round + 1
  end
  run.finished = not a.more
  run.at, run.cutoff, run.message_days = a.now, a.cutoff, a.message_days
  redis.call('HSET', STATE, 'last_run', cjson.encode(run))
  return cjson.encode(run)
end

return cjson.encode({error = 'unknown_op'})

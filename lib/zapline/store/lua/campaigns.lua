-- Campaigns: creation, fan-out pages, one recipient's send, attribution, pause / resume / cancel.
-- The campaign hash holds its settings, status, fan-out cursor and counters (n:<counter>); a mark in
-- campaign_marks (<counter>:<who>) makes each recipient move each counter once, however often a job
-- or a webhook is delivered. A recipient's outcome (t:<index>: sent, failed or skipped) is counted
-- once and adds to n:done; the campaign completes when every recipient has one.
-- Statuses: draft (stored, its first job not yet confirmed by QStash) → scheduled → running →
-- completed; paused and cancelled from any of the first three. Python decides what to publish.
-- An ended campaign is listed in campaigns_ended until retention deletes its recipients, list, marks
-- and held sends (retention.lua, op campaigns) and sets pruned_at; its hash and counters stay.

local function ckey(id) return K.campaign(id) end

-- Set a mark; add one to the campaign's counter the first time only.
local function mark(cid, counter, who)
  if redis.call('HSETNX', K.campaign_marks(cid), counter .. ':' .. who, 1) == 0 then return false end
  redis.call('HINCRBY', ckey(cid), 'n:' .. counter, 1)
  return true
end

-- A recipient's outcome, once: sent | failed | skip:<reason>.
local function finish(cid, index, outcome)
  if redis.call('HSETNX', K.campaign_marks(cid), 't:' .. index, outcome) == 0 then return false end
  redis.call('HINCRBY', ckey(cid), 'n:' .. outcome, 1)
  redis.call('HINCRBY', ckey(cid), 'n:done', 1)
  return true
end

-- Completed once the fan-out passed the last recipient and each has an outcome.
local function complete_if_done(cid)
  local c = redis.call('HMGET', ckey(cid), 'status', 'cursor', 'total', 'n:done', 'resolved')
  local total = tonumber(c[3])
  if c[5] ~= '1' or not total or (c[1] ~= 'running' and c[1] ~= 'scheduled' and c[1] ~= 'draft') then return false end
  if (tonumber(c[2]) or 0) < total or (tonumber(c[4]) or 0) < total then return false end
  redis.call('HSET', ckey(cid), 'status', 'completed', 'completed_at', a.now)
  redis.call('HDEL', ckey(cid), 'relaunch')
  redis.call('ZADD', K.campaigns_ended(), a.now, cid)  -- retention deletes its recipients in time
  return true
end

-- The campaign as it is now when a live update is due: at most one a second (a.throttle_ms), or now.
local function progress(cid, force)
  local key = ckey(cid)
  local last = tonumber(redis.call('HGET', key, 'progress_at')) or 0
  if not force and a.now - last < a.throttle_ms then return nil end
  redis.call('HSET', key, 'progress_at', a.now)
  redis.call('HINCRBY', key, 'progress_seq', 1)
  return hash(key)
end

local function reply(t) return cjson.encode(t) end

if op == 'create' then
  local key = ckey(a.campaign.id)
  if redis.call('EXISTS', key) == 1 then return reply({outcome = 'existing', campaign = hash(key)}) end
  local fields = {}
  for k, v in pairs(a.campaign) do table.insert(fields, k); table.insert(fields, v) end
  redis.call('HSET', key, unpack(fields))
  redis.call('PERSIST', K.campaign_recipients(a.campaign.id))  -- written before, with a day's TTL
  redis.call('ZADD', K.campaigns(), a.now, a.campaign.id)
  return reply({outcome = 'created', campaign = hash(key)})
end

if op == 'attribute' then
  -- receipts and replies: items {c = campaign, n = delivered|read|replied, w = message or lead, conv?}
  local moved = {}
  for _, item in ipairs(a.items) do
    local st = redis.call('HMGET', ckey(item.c), 'id', 'pruned_at')
    if st[1] and not st[2] then  -- a campaign whose recipients retention deleted counts nothing more
      if mark(item.c, item.n, item.w) then moved[item.c] = true end
    end
    -- the first reply after a campaign message is the one attributed: later ones cost nothing
    if item.conv and redis.call('HGET', K.conversation(item.conv), 'campaign_id') == item.c then
      redis.call('HDEL', K.conversation(item.conv), 'campaign_id')
    end
  end
  local campaigns = {}
  for cid, _ in pairs(moved) do
    local shown = progress(cid, false)
    if shown then table.insert(campaigns, shown) end
  end
  return reply({outcome = 'attributed', campaigns = campaigns})
end

local key = ckey(a.campaign_id)
local c = hash(key)
if not c then return reply({error = 'no_campaign'}) end
local cid = a.campaign_id
local epoch = tonumber(c.epoch) or 0
-- an ended campaign whose recipients retention deleted: a very late job or retry changes nothing
if c.pruned_at and (op == 'prepare' or op == 'finish' or op == 'commit') then
  return reply({outcome = (op == 'prepare') and 'done' or 'already', campaign = c})
end

if op == 'resolve' then
  -- a filter's recipients, staged in full: they become the campaign's list in one step, once
  if c.resolved == '1' then
    redis.call('DEL', a.staged)
    return reply({outcome = 'already', campaign = c})
  end
  if a.count > 0 then
    redis.call('RENAME', a.staged, K.campaign_recipients(cid))
    redis.call('PERSIST', K.campaign_recipients(cid))  -- RENAME keeps the staging TTL: the list must outlive it
  end
  redis.call('HSET', key, 'resolved', 1, 'total', a.count)
  return reply({outcome = 'resolved', campaign = hash(key)})
end

if op == 'begin' then
  -- one fan-out page: [a.start, a.start + a.size) if this job is the campaign's current one
  local out = {campaign = c}
  if c.status == 'cancelled' or c.status == 'completed' then out.outcome = 'stopped'; return reply(out) end
  if epoch ~= a.epoch then out.outcome = 'stale'; return reply(out) end
  if c.status == 'paused' then out.outcome = 'paused'; return reply(out) end
  local cursor = tonumber(c.cursor) or 0
  if cursor ~= a.start then
    -- this page was committed (its retry: the next page may still need publishing), or is long past
    out.outcome = (tonumber(c.last_page) == a.start) and 'committed' or 'stale'
    return reply(out)
  end
  if c.resolved ~= '1' then out.outcome = 'resolve'; return reply(out) end
  if c.status ~= 'running' then
    redis.call('HSET', key, 'status', 'running', 'started_at', a.now)
    c.status, c.started_at = 'running', a.now
  end
  local page = {}
  for i, raw in ipairs(redis.call('LRANGE', K.campaign_recipients(cid), a.start, a.start + a.size - 1)) do
    local r = cjson.decode(raw)
    local entry = {i = a.start + i - 1, p = r.p, s = r.s}
    if not r.s then
      local lead_id = redis.call('HGET', K.lead_index(), r.p)
      if lead_id and opted_out(lead_id) then entry.s = 'opted_out' end
    end
    table.insert(page, entry)
  end
  local inst = redis.call('HMGET', K.instance(c.instance_id), 'token', 'base_url')
  out.outcome, out.page, out.token, out.base_url = 'page', page, inst[1], inst[2]
  return reply(out)
end

if op == 'commit' then
  -- the page's sends are in QStash: move the cursor and count the page's skips, once
  if (tonumber(c.cursor) or 0) ~= a.start or epoch ~= a.epoch then
    return reply({outcome = 'already', campaign = c})
  end
  redis.call('HSET', key, 'cursor', a.next, 'last_page', a.start)
  if a.published > 0 then redis.call('HINCRBY', key, 'n:published', a.published) end
  for _, skip in ipairs(a.skips) do finish(cid, skip[1], 'skip:' .. skip[2]) end
  local done = complete_if_done(cid)
  local shown = progress(cid, done or a.next >= (tonumber(c.total) or 0))
  return reply({outcome = 'committed', campaign = hash(key), shown = shown})
end

if op == 'prepare' then
  -- one recipient's send: held while paused, skipped once cancelled or opted out; else its lead
  -- and an open conversation (created for a first contact), and what to render
  local index = a.index
  if redis.call('HEXISTS', K.campaign_marks(cid), 't:' .. index) == 1 then
    return reply({outcome = 'done'})
  end
  if c.status == 'paused' then
    redis.call('SADD', K.campaign_held(cid), index .. '|' .. a.jid)
    return reply({outcome = 'held'})
  end
  local function skipped(reason)
    if finish(cid, index, 'skip:' .. reason) then redis.call('HINCRBY', key, 'n:send_skips', 1) end
    return reply({outcome = 'skipped', reason = reason, shown = progress(cid, complete_if_done(cid))})
  end
  if c.status == 'cancelled' then return skipped('cancelled') end
  local raw = redis.call('LINDEX', K.campaign_recipients(cid), index)
  if not raw then return reply({error = 'no_recipient'}) end
  local r = cjson.decode(raw)
  local lead_id = redis.call('HGET', K.lead_index(), r.p)
  local lead = {}
  if lead_id then
    if opted_out(lead_id) then return skipped('opted_out') end
    local l = redis.call('HMGET', K.lead(lead_id), 'name', 'fields')
    lead = {name = l[1] or nil, fields = l[2] or nil}
  else
    lead_id = a.new_lead_id
    redis.call('HSET', K.lead_index(), r.p, lead_id)
    redis.call('HSET', K.lead(lead_id), 'id', lead_id, 'phone', r.p, 'lid', '', 'name', r.n or '',
               'instance_id', c.instance_id, 'chat_jid', a.jid, 'created_at', a.now, 'source', 'campaign')
  end
  -- the chat's conversation while it is open; else a new one, which the chat then points to
  local inst_key = K.instance(c.instance_id)
  local chat = redis.call('HGET', inst_key, F.instance_chat(a.jid))
  local conv_id, early = nil, '0'
  if chat then
    local conv, _, until_ms = string.match(chat, '^([^|]*)|([^|]*)|?([^|]*)$')
    if conv and conv ~= '' then conv_id = conv end
    if until_ms and until_ms ~= '' then early = until_ms end
  else
    conv_id = redis.call('HGET', K.chats(), F.chat(c.instance_id, a.jid)) or nil
  end
  if conv_id and redis.call('HGET', K.conversation(conv_id), 'status') ~= 'open' then conv_id = nil end
  if not conv_id then
    conv_id = a.new_conv_id
    redis.call('HSET', K.conversation(conv_id), 'id', conv_id, 'lead_id', lead_id, 'instance_id', c.instance_id,
               'chat_jid', a.jid, 'is_group', 0, 'status', 'open', 'opened_at', a.now, 'opened_day', a.day,
               'created_at', a.now, 'lead_phone', r.p, 'title', r.n or lead.name or '', 'opened_by', 'campaign')
    redis.call('ZADD', K.lead_conversations(lead_id), a.now, conv_id)
    redis.call('HSET', inst_key, F.instance_chat(a.jid), conv_id .. '|' .. lead_id .. '|' .. early)
  end
  return reply({outcome = 'ready', conversation_id = conv_id, name = r.n or lead.name, fields = r.f,
                lead_fields = lead.fields, phone = r.p, template = c.template, media = c.media})
end

if op == 'finish' then
  -- a queued recipient's outcome (sent, failed or skip:<reason>); a sent one's conversation carries the
  -- campaign until the lead's first reply (ingest.lua returns it: attribution costs nothing otherwise)
  local new = finish(cid, a.index, a.outcome)
  if new and a.outcome ~= 'sent' and a.outcome ~= 'failed' then redis.call('HINCRBY', key, 'n:send_skips', 1) end
  if new and a.outcome == 'sent' and a.conversation_id then
    redis.call('HSET', K.conversation(a.conversation_id), 'campaign_id', cid)
  end
  -- receipts that waited for the send to be recorded moved the message without a receipts answer
  local sent = a.outcome == 'sent' and a.message_id and load(a.message_id)
  if sent and (RANK[sent.status] or 0) >= RANK.delivered then
    mark(cid, 'delivered', sent.id)
    if RANK[sent.status] >= RANK.read then mark(cid, 'read', sent.id) end
  end
  local shown = new and progress(cid, complete_if_done(cid)) or nil
  return reply({outcome = new and 'counted' or 'already', shown = shown})
end

if op == 'pause' then
  if c.status == 'paused' then return reply({outcome = 'already', campaign = c}) end
  if c.status ~= 'draft' and c.status ~= 'scheduled' and c.status ~= 'running' then
    return reply({outcome = 'conflict', campaign = c})
  end
  redis.call('HSET', key, 'status', 'paused', 'paused_from', c.status, 'paused_at', a.now)
  return reply({outcome = 'paused', campaign = hash(key), shown = progress(cid, true)})
end

if op == 'resume' then
  -- back to where it was, under a new epoch (jobs of the old one are stale); ``relaunch`` stays until
  -- the page and the held sends are in QStash again (a repeated resume publishes them again)
  local out = {}
  if c.status == 'paused' then
    local back = (c.paused_from == 'running') and 'running' or 'scheduled'
    epoch = redis.call('HINCRBY', key, 'epoch', 1)
    redis.call('HSET', key, 'status', back, 'relaunch', epoch)
    redis.call('HDEL', key, 'paused_from', 'paused_at')
    out.outcome = 'resumed'
  elseif c.status == 'draft' or c.relaunch then
    out.outcome = 'relaunch'
  elseif c.status == 'scheduled' or c.status == 'running' then
    out.outcome = 'already'
  else
    return reply({outcome = 'conflict', campaign = c})
  end
  out.held = redis.call('SMEMBERS', K.campaign_held(cid))
  out.campaign = hash(key)
  out.shown = out.outcome == 'resumed' and progress(cid, true) or nil
  return reply(out)
end

if op == 'relaunched' then
  -- the page (a draft's first one) and these held sends are in QStash: a draft is scheduled from now
  -- on, and the held sends are forgotten
  if #a.held > 0 then redis.call('SREM', K.campaign_held(cid), unpack(a.held)) end
  if tonumber(c.relaunch) == a.epoch then redis.call('HDEL', key, 'relaunch') end
  if c.status == 'draft' then redis.call('HSET', key, 'status', 'scheduled') end
  return reply({outcome = 'relaunched', campaign = hash(key)})
end

if op == 'cancel' then
  if c.status == 'cancelled' then return reply({outcome = 'already', campaign = c}) end
  if c.status == 'completed' then return reply({outcome = 'conflict', campaign = c}) end
  redis.call('HSET', key, 'status', 'cancelled', 'cancelled_at', a.now)
  redis.call('HDEL', key, 'relaunch', 'paused_from')
  redis.call('ZADD', K.campaigns_ended(), a.now, cid)
  -- held sends are cancelled now; queued ones when they arrive; the rest were never queued
  for _, member in ipairs(redis.call('SMEMBERS', K.campaign_held(cid))) do
    local index = string.match(member, '^(%d+)|')
    if index and finish(cid, index, 'skip:cancelled') then redis.call('HINCRBY', key, 'n:send_skips', 1) end
  end
  redis.call('DEL', K.campaign_held(cid))
  return reply({outcome = 'cancelled', campaign = hash(key), shown = progress(cid, true)})
end

return reply({error = 'unknown_op'})

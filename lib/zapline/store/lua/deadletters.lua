-- Dead-letter operations (store/deadletters.py). An organisation's dead letters are JSON records in
-- K.dead_letters(); K.dead_letter_seen(dlq_id) is each one's fate: '1' recorded, 'retrying:<until ms>'
-- while a retry is under way, 'retried:<QStash message id>', 'deleted'. A record is addressed by its
-- dlq_id, or (recorded by the relay, never in QStash) by 'local-' and the start of its SHA-1.

local function ident(raw, rec)
  if rec.dlq_id and rec.dlq_id ~= '' then return rec.dlq_id end
  return 'local-' .. string.sub(redis.sha1hex(raw), 1, 16)
end

-- remove every record whose id is in `wanted` (a set); the removed records, as stored
local function remove(wanted)
  local removed = {}
  for _, raw in ipairs(redis.call('LRANGE', K.dead_letters(), 0, -1)) do
    local ok, rec = pcall(cjson.decode, raw)
    if ok and type(rec) == 'table' and wanted[ident(raw, rec)] then
      redis.call('LREM', K.dead_letters(), 0, raw)
      table.insert(removed, raw)
    end
  end
  return removed
end

local function find(id)
  for _, raw in ipairs(redis.call('LRANGE', K.dead_letters(), 0, -1)) do
    local ok, rec = pcall(cjson.decode, raw)
    if ok and type(rec) == 'table' and ident(raw, rec) == id then return raw end
  end
  return nil
end

if op == 'claim_retry' then
  -- one retry at a time per dead letter, and none after it was retried or deleted
  local seen = K.dead_letter_seen(a.dlq_id)
  local mark = redis.call('GET', seen) or ''
  if string.sub(mark, 1, 8) == 'retried:' then
    return cjson.encode({outcome = 'retried', message_id = string.sub(mark, 9)})
  end
  if mark == 'deleted' then return cjson.encode({outcome = 'deleted'}) end
  if string.sub(mark, 1, 9) == 'retrying:' and (tonumber(string.sub(mark, 10)) or 0) > a.now then
    return cjson.encode({outcome = 'busy'})
  end
  local raw = find(a.dlq_id)
  if not raw then return cjson.encode({outcome = 'missing'}) end
  redis.call('SET', seen, 'retrying:' .. (a.now + a.lease_ms), 'EX', a.ttl)
  return cjson.encode({outcome = 'claimed', record = raw})
end

if op == 'retried' then
  redis.call('SET', K.dead_letter_seen(a.dlq_id), 'retried:' .. a.message_id, 'EX', a.ttl)
  remove({[a.dlq_id] = true})
  return cjson.encode({outcome = 'retried'})
end

if op == 'release_retry' then
  local seen = K.dead_letter_seen(a.dlq_id)
  if string.sub(redis.call('GET', seen) or '', 1, 9) == 'retrying:' then redis.call('SET', seen, '1', 'EX', a.ttl) end
  return cjson.encode({outcome = 'released'})
end

if op == 'delete' then
  local wanted = {}
  for _, id in ipairs(a.ids) do wanted[id] = true end
  local removed = remove(wanted)
  for _, raw in ipairs(removed) do
    local rec = cjson.decode(raw)
    if rec.dlq_id and rec.dlq_id ~= '' then
      redis.call('SET', K.dead_letter_seen(rec.dlq_id), 'deleted', 'EX', a.ttl)
    end
  end
  return cjson.encode({outcome = 'deleted', removed = removed})
end

if op == 'revive' then
  -- a send QStash gave up on goes back to pending, so its retried job sends it; never one that was sent
  local rec = load(a.message_id)
  if not rec then return cjson.encode({error = 'no_message'}) end
  if rec.status == 'failed' and rec.error ~= 'opted_out' then
    rec.status, rec.error, rec.lease_until = 'pending', nil, nil
    save(rec)
    return cjson.encode({outcome = 'revived', message = rec})
  end
  return cjson.encode({outcome = 'unchanged', message = rec})
end

return cjson.encode({error = 'unknown_op'})

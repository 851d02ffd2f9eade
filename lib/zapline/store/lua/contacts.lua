-- The contact sync's cursor, per instance (store/contacts.py; key K.contact_sync(<instance>)).
-- start: a run begins for each of a.instances (id a.run) and answers where its first batch starts:
--   0, or the saved cursor when the previous run did not finish (it resumes there). Starting the
--   same run again changes nothing and answers the same.
-- claim: may the batch at a.offset of run a.run go? 'go'; 'superseded' (another run took over);
--   'done' (this batch was done already: a retry), with the successor to publish again when this
--   batch was the last one done (its publish may be what failed).
-- advance: the batch at a.offset is done: counters added, the cursor saved (a.next) or the run done.

local COUNTERS = {'seen', 'matched', 'updated', 'unchanged', 'kept', 'unknown', 'skipped'}

if op == 'start' then
  local started = {}
  for _, instance_id in ipairs(a.instances) do
    local key = K.contact_sync(instance_id)
    local s = hash(key) or {}
    if s.run == a.run then
      table.insert(started, {instance_id, tonumber(s.start_offset) or 0, 'again'})
    else
      local offset, how = 0, 'fresh'
      if s.status == 'running' then offset, how = tonumber(s.offset) or 0, 'resumed' end
      local fields = {'run', a.run, 'status', 'running', 'offset', offset, 'start_offset', offset,
                      'started_at', a.now, 'batches', 0, 'previous_run', s.run or ''}
      for _, c in ipairs(COUNTERS) do table.insert(fields, c); table.insert(fields, 0) end
      redis.call('HSET', key, unpack(fields))
      redis.call('HDEL', key, 'finished_at')
      table.insert(started, {instance_id, offset, how})
    end
  end
  return cjson.encode({started = started})
end

local key = K.contact_sync(a.instance_id)
local s = hash(key) or {}
if s.run ~= a.run then return cjson.encode({outcome = 'superseded'}) end
local cursor = tonumber(s.offset) or 0

if op == 'claim' then
  if s.status == 'done' or a.offset < cursor then
    local successor = nil
    if s.status ~= 'done' and a.offset + a.batch == cursor then successor = cursor end
    return cjson.encode({outcome = 'done', successor = successor})
  end
  return cjson.encode({outcome = 'go'})
end

if op == 'advance' then
  if s.status == 'done' or a.offset < cursor then return cjson.encode({outcome = 'done'}) end
  for name, n in pairs(a.counts) do redis.call('HINCRBY', key, name, n) end
  redis.call('HINCRBY', key, 'batches', 1)
  if a.next then
    redis.call('HSET', key, 'offset', a.next)
  else
    redis.call('HSET', key, 'status', 'done', 'finished_at', a.now, 'offset', a.end_offset)
  end
  return cjson.encode({outcome = 'advanced'})
end

return cjson.encode({error = 'unknown_op'})

-- API keys (admin/keys.py): each one's record is JSON in the organisation hash (KEYS[1]), field
-- F.api_key(<key id>) (record: admin/auth.py). A script, so that "never revoke the last owner key"
-- holds against two revocations at once. The key made before roles (the hash's api_key_hash) is
-- moved into a record first, under the id its digest gives it, so every operation sees every key.

local FIELD = F.api_key('')

local function migrate()
  local legacy = redis.call('HGET', KEYS[1], 'api_key_hash')
  if not legacy then return end
  local id = 'key_' .. string.sub(legacy, 1, 10)
  local created = tonumber(redis.call('HGET', KEYS[1], 'created_at')) or a.now
  redis.call('HSETNX', KEYS[1], F.api_key(id), cjson.encode({id = id, role = 'owner', name = 'first owner key',
             prefix = a.legacy_prefix, digest = legacy, created_at = created, revoked = false}))
  redis.call('HDEL', KEYS[1], 'api_key_hash')
end

local function records()
  local out = {}
  local flat = redis.call('HGETALL', KEYS[1])
  for i = 1, #flat, 2 do
    if string.sub(flat[i], 1, #FIELD) == FIELD then table.insert(out, flat[i + 1]) end
  end
  return out
end

migrate()

if op == 'list' then
  return cjson.encode({keys = records()})
end

if op == 'create' then
  redis.call('HSET', KEYS[1], F.api_key(a.key_id), a.record)
  return cjson.encode({outcome = 'created'})
end

local raw = redis.call('HGET', KEYS[1], F.api_key(a.key_id))
if not raw then return cjson.encode({error = 'no_key'}) end
local rec = cjson.decode(raw)

if op == 'rotate' then
  if rec.revoked == true then return cjson.encode({error = 'revoked'}) end
  rec.digest, rec.prefix, rec.rotated_at = a.digest, a.prefix, a.now
  local stored = cjson.encode(rec)
  redis.call('HSET', KEYS[1], F.api_key(a.key_id), stored)
  return cjson.encode({outcome = 'rotated', record = stored})
end

if op == 'revoke' then
  if rec.revoked == true then return cjson.encode({outcome = 'already_revoked', record = raw}) end
  if rec.role == 'owner' then
    local owners = 0
    for _, other in ipairs(records()) do
      local o = cjson.decode(other)
      if o.role == 'owner' and o.revoked ~= true then owners = owners + 1 end
    end
    if owners <= 1 then return cjson.encode({error = 'last_owner'}) end
  end
  rec.revoked, rec.revoked_at = true, a.now
  local stored = cjson.encode(rec)
  redis.call('HSET', KEYS[1], F.api_key(a.key_id), stored)
  return cjson.encode({outcome = 'revoked', record = stored})
end

return cjson.encode({error = 'unknown_op'})

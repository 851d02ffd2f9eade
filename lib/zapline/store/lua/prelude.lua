-- Prepended to every script (store/scripts.py): the calling convention and the shared helpers.
-- KEYS[1] = zl:{org}:org, from which every other key of the organisation is derived (key names:
-- store/keys.py); ARGV[1] = the operation; ARGV[2] = its arguments as JSON.
local P = string.sub(KEYS[1], 1, -4)
--@KEYS: K.<name>(ids…) for every key name of store/keys.py is generated here (scripts.py)
local op = ARGV[1]
local a = cjson.decode(ARGV[2])
local RANK = {pending = 0, sending = 0, failed = 0, cancelled = 0, sent = 1, received = 1, delivered = 2,
              read = 3, played = 4}

local function hash(key)
  local c = redis.call('HGETALL', key)
  if #c == 0 then return nil end
  local t = {}
  for i = 1, #c, 2 do t[c[i]] = c[i + 1] end
  return t
end

local function load(msg_id)
  local raw = redis.call('GET', K.message(msg_id))
  return raw and cjson.decode(raw)
end

local function save(rec)
  redis.call('SET', K.message(rec.id), cjson.encode(rec))
end

local function opted_out(lead_id)
  return lead_id and lead_id ~= '' and redis.call('HGET', K.lead(lead_id), 'opted_out') == '1'
end

-- Add n (default 1) to a counter of the organisation's local day (a.day), which expires a.day_ttl.
-- hourly: count it per local hour (field:HH, a.hour), as the inbound and outbound counters are;
-- readers add the hours back into the day (store/counters.py).
local function count(field, n, hourly)
  local key = K.daily(a.day)
  if hourly and a.hour then field = field .. ':' .. a.hour end
  if redis.call('HINCRBY', key, field, n or 1) == (n or 1) then redis.call('EXPIRE', key, a.day_ttl) end
end

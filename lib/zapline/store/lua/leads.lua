-- A lead's profile fields (store/leads.py). op update: apply a.set (name, email, birthday,
-- profile_picture: '' clears), a.tags, a.labels, a.fields_set / a.fields_del / a.fields_clear (custom
-- fields, per key)
-- from a.source. An operator's fields join the lead's `edited` list; 'ai' and 'sync' never touch an
-- edited field (fields.<key> for a custom field); 'ai' tags join the lead's rather than replace them.
-- Nothing is written unless a value changes (or an operator claims a field). Returns the lead and
-- the names of the fields whose value changed.

local MAX_TAGS, MAX_FIELDS = 20, 30

local function list_of(raw)
  if not raw or raw == '' then return {} end
  local ok, v = pcall(cjson.decode, raw)
  if not ok or type(v) ~= 'table' then return {} end
  return v
end

local function encode_list(t)
  if #t == 0 then return '[]' end  -- cjson writes an empty table as {}
  return cjson.encode(t)
end

local function same_list(x, y)
  if #x ~= #y then return false end
  for i = 1, #x do if x[i] ~= y[i] then return false end end
  return true
end

if op ~= 'update' then return cjson.encode({error = 'unknown_op'}) end

local key = K.lead(a.lead_id)
local cur = hash(key)
if not cur then return cjson.encode({error = 'no_lead'}) end

local operator = a.source == 'operator'
local edited = list_of(cur.edited)
local claimed = {}
for _, name in ipairs(edited) do claimed[name] = true end
local edited_grew = false
local writes, changed = {}, {}

-- may this source write that field? an operator claims it as it does
local function may(name)
  if operator then
    if not claimed[name] then
      claimed[name] = true
      table.insert(edited, name)
      edited_grew = true
    end
    return true
  end
  return not claimed[name]
end

for _, name in ipairs({'name', 'email', 'birthday', 'profile_picture'}) do
  local value = a.set[name]
  if type(value) == 'string' and may(name) and (cur[name] or '') ~= value then
    writes[name] = value
    table.insert(changed, name)
  end
end

for _, name in ipairs({'tags', 'labels'}) do
  local given = a[name]
  if type(given) == 'table' and may(name) then
    local current = list_of(cur[name])
    local new, seen = given, {}
    if name == 'tags' and a.source == 'ai' then  -- the AI adds to what the lead has
      new = {}
      for _, list in ipairs({current, given}) do
        for _, tag in ipairs(list) do
          if not seen[tag] and #new < MAX_TAGS then seen[tag] = true; table.insert(new, tag) end
        end
      end
    end
    if not same_list(current, new) then
      writes[name] = encode_list(new)
      table.insert(changed, name)
    end
  end
end

if type(a.fields_set) == 'table' or type(a.fields_del) == 'table' or a.fields_clear then
  local fields = list_of(cur.fields)
  local count = 0
  local remove = a.fields_del or {}
  for k in pairs(fields) do
    count = count + 1
    if a.fields_clear then table.insert(remove, k) end
  end
  local moved = false
  for _, k in ipairs(remove) do
    if may('fields.' .. k) and fields[k] ~= nil then
      fields[k] = nil
      count = count - 1
      moved = true
    end
  end
  for _, pair in ipairs(a.fields_set or {}) do
    local k, v = pair[1], pair[2]
    if may('fields.' .. k) and fields[k] ~= v then
      if fields[k] == nil then
        if count >= MAX_FIELDS then
          if operator then return cjson.encode({error = 'too_many_fields'}) end
        else
          count = count + 1
          fields[k] = v
          moved = true
        end
      else
        fields[k] = v
        moved = true
      end
    end
  end
  if moved then
    writes.fields = next(fields) and cjson.encode(fields) or '{}'
    table.insert(changed, 'fields')
  end
end

local flat = {}
for k, v in pairs(writes) do table.insert(flat, k); table.insert(flat, v) end
if #changed > 0 then table.insert(flat, 'updated_at'); table.insert(flat, a.now) end
if edited_grew then table.insert(flat, 'edited'); table.insert(flat, encode_list(edited)) end
if #flat > 0 then redis.call('HSET', key, unpack(flat)) end
return cjson.encode({lead = hash(key), changed = changed})

-- One page of an organisation's inbox or of a conversation's messages, in one round trip.
-- op: 'conversations' | 'messages'; a: {limit, score?, member?, conversation_id?}, where
-- (score, member) is the last item of the previous page.
-- Returns JSON {items = [...], more = bool}.
local items, more = {}, false

local batch = a.limit + 50
if op == 'conversations' then
  local ids = redis.call('ZREVRANGEBYSCORE', K.inbox(), a.score or '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, batch)
  for i = 1, #ids, 2 do
    local member, score = ids[i], tonumber(ids[i + 1])
    -- same-score members come in descending order: skip those the previous page already gave
    if not a.score or score < a.score or member < a.member then
      if #items == a.limit then more = true; break end
      local conv = hash(K.conversation(member))
      if conv then conv.cursor_score = score; table.insert(items, conv) end
    end
  end
else
  if redis.call('EXISTS', K.conversation(a.conversation_id)) == 0 then
    return cjson.encode({missing = true})
  end
  local ids = redis.call('ZRANGEBYSCORE', K.conversation_messages(a.conversation_id), a.score or '-inf', '+inf',
                         'WITHSCORES', 'LIMIT', 0, batch)
  for i = 1, #ids, 2 do
    local member, score = ids[i], tonumber(ids[i + 1])
    if not a.score or score > a.score or member > a.member then
      if #items == a.limit then more = true; break end
      local raw = redis.call('GET', K.message(member))
      if raw then table.insert(items, raw) end
    end
  end
end
return cjson.encode({items = items, more = more})

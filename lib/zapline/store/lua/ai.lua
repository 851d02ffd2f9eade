-- The AI's writes (ai/*.py): what it read in a message, stored on the message record.

if op == 'annotate' then
  -- a.message_id, a.field (transcript | analysis | document), a.value: merged into rec.ai
  local rec = load(a.message_id)
  if not rec then return cjson.encode({error = 'no_message'}) end
  rec.ai = rec.ai or {}
  rec.ai[a.field] = a.value
  save(rec)
  return cjson.encode({message = rec})
end

return cjson.encode({error = 'unknown_op'})

-- count_hit: ARGV prefix, conversation id, rule index, times ('' = no limit), now, max_conversations.
-- Returns the hit's 0-based index, or nil (counting nothing) when the rule has answered `times` times.
local id, rule = ARGV[2], ARGV[3]
local conv = P .. ':conv:' .. id
if redis.call('EXISTS', conv) == 0 then  -- evicted since its turn opened: it starts over
  new_conversation(id, conv, ARGV[5], tonumber(ARGV[6]))
else
  current_hits(id, conv)
end
local hits_key = P .. ':hits:' .. id
local hits = tonumber(redis.call('HGET', hits_key, rule) or '0')
if ARGV[4] ~= '' and hits >= tonumber(ARGV[4]) then
  return false
end
redis.call('HINCRBY', hits_key, rule, 1)
return hits

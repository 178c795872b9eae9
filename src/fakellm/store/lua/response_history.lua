-- response_history: ARGV prefix, id. Returns the chain ending at the response, newest first, each
-- used (as get_response); empty when unknown. An evicted ancestor, or a loop, ends the walk.
local out, seen, id = {}, {}, ARGV[2]
while id ~= '' and not seen[id] do
  local f = redis.call('HMGET', P .. ':response:' .. id, 'data', 'prev')
  if not f[1] then
    break
  end
  redis.call('ZADD', RESPONSES, tick(), id)
  seen[id] = true
  out[#out + 1] = f[1]
  id = f[2]
end
return out

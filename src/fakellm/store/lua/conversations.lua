-- conversations: ARGV prefix, offset, limit (> 0). Returns {total, {id, requests, turn, first seen,
-- last seen, tool results seen}, ...}, most recently used first.
local offset, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {redis.call('ZCARD', CONVS)}
for _, id in ipairs(redis.call('ZREVRANGE', CONVS, offset, offset + limit - 1)) do
  local f = redis.call('HMGET', P .. ':conv:' .. id, 'requests', 'turn', 'first', 'last')
  if f[1] then  -- (gone only if Redis itself evicted it: fakellm's keys need a Redis that does not)
    out[#out + 1] = {id, f[1], f[2], f[3], f[4], redis.call('ZCARD', TOOLS_PREFIX .. id)}
  end
end
return out

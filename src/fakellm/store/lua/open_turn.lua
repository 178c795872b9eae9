-- open_turn: ARGV prefix, conversation id, now, turn ('' = count requests), max_conversations,
-- max_tool_results, then the digests of the request's tool results.
-- Returns {turn, {rule index, hits, ...}}.
local id, now, turn = ARGV[2], ARGV[3], ARGV[4]
local conv = P .. ':conv:' .. id
if redis.call('EXISTS', conv) == 0 then
  new_conversation(id, conv, now, tonumber(ARGV[5]))
else
  redis.call('ZADD', CONVS, tick(), id)
  redis.call('HSET', conv, 'last', now)
  current_hits(id, conv)
end
local tools, max_tools = TOOLS_PREFIX .. id, tonumber(ARGV[6])
for i = 7, #ARGV do
  local digest = ARGV[i]
  if not redis.call('ZSCORE', tools, digest) then
    while redis.call('ZCARD', tools) >= max_tools do
      redis.call('ZPOPMIN', tools)
    end
    redis.call('ZADD', tools, redis.call('HINCRBY', conv, 'tools', 1), digest)
  end
end
local requests = redis.call('HINCRBY', conv, 'requests', 1)
local this_turn = requests
if turn ~= '' then
  this_turn = tonumber(turn)
end
redis.call('HSET', conv, 'turn', this_turn)
return {this_turn, redis.call('HGETALL', P .. ':hits:' .. id)}

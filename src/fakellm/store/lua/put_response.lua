-- put_response: ARGV prefix, id, the response, previous id ('' = none), its output item ids as a
-- JSON array, max_responses.
local id = ARGV[2]
redis.call('HSET', P .. ':response:' .. id, 'data', ARGV[3], 'prev', ARGV[4], 'items', ARGV[5])
redis.call('ZADD', RESPONSES, tick(), id)
for _, item in ipairs(cjson.decode(ARGV[5])) do
  redis.call('HSET', ITEMS, item, id)
end
evict_responses(tonumber(ARGV[6]))
return 0

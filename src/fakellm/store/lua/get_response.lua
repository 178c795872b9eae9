-- get_response: ARGV prefix, id. Returns the response (and counts it as used), or nil.
local data = redis.call('HGET', P .. ':response:' .. ARGV[2], 'data')
if data then
  redis.call('ZADD', RESPONSES, tick(), ARGV[2])
end
return data

-- journal: ARGV prefix, after. Returns {id, entry, latency ('' = not noted), ...}, oldest first.
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', JOURNAL, '(' .. ARGV[2], '+inf')) do
  local data = redis.call('HGET', JOURNAL .. ':entries', id)
  if data then
    out[#out + 1] = id
    out[#out + 1] = data
    out[#out + 1] = redis.call('HGET', JOURNAL .. ':latency', id) or ''
  end
end
return out

-- reset: ARGV prefix. Forgets conversations, stored responses and buckets (the journal, stats and
-- the fleet's config stay). Returns how many conversations were forgotten.
local ids = redis.call('ZRANGE', CONVS, 0, -1)
for _, id in ipairs(ids) do
  forget_conversation(id)
end
for _, id in ipairs(redis.call('ZRANGE', RESPONSES, 0, -1)) do
  redis.call('DEL', P .. ':response:' .. id)
end
redis.call('DEL', CONVS, RESPONSES, ITEMS, BUCKETS, BUCKETS_LRU)
return #ids

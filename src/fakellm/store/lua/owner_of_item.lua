-- owner_of_item: ARGV prefix, item id. Returns the response whose output has the item, or nil.
local id = redis.call('HGET', ITEMS, ARGV[2])
if not id then
  return false
end
return redis.call('HGET', P .. ':response:' .. id, 'data')

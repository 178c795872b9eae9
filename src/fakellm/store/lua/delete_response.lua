-- delete_response: ARGV prefix, id. Returns 1 if it was stored.
if redis.call('ZREM', RESPONSES, ARGV[2]) == 0 then
  return 0
end
forget_response(ARGV[2])
return 1

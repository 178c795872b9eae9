-- note_latency: ARGV prefix, entry id, milliseconds. Nothing for an entry already trimmed away.
if redis.call('HEXISTS', JOURNAL .. ':entries', ARGV[2]) == 1 then
  redis.call('HSET', JOURNAL .. ':latency', ARGV[2], ARGV[3])
end
return 0

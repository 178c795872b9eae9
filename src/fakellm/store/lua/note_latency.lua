-- note_latency: ARGV prefix, then pairs of entry id and milliseconds (a batch). Nothing for an entry
-- already trimmed away.
for i = 2, #ARGV, 2 do
  if redis.call('HEXISTS', JOURNAL .. ':entries', ARGV[i]) == 1 then
    redis.call('HSET', JOURNAL .. ':latency', ARGV[i], ARGV[i + 1])
  end
end
return 0

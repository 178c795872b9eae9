-- record: ARGV prefix, entry, its footprint, api, rule ('' when none matched), whether a rule
-- matched ('1'/'0'), time, journal_size, journal_bytes. Returns the entry's id.
local id = redis.call('HINCRBY', STATS, 'total', 1)  -- ids count requests, fleet-wide
redis.call('ZADD', JOURNAL, id, id)
redis.call('HSET', JOURNAL .. ':entries', id, ARGV[2])
redis.call('HSET', JOURNAL .. ':sizes', id, ARGV[3])
redis.call('INCRBY', JOURNAL .. ':bytes', ARGV[3])
trim_journal(tonumber(ARGV[8]), tonumber(ARGV[9]))
redis.call('HINCRBY', STATS .. ':apis', ARGV[4], 1)
if ARGV[6] == '1' then
  redis.call('HINCRBY', STATS .. ':rules', ARGV[5], 1)
  redis.call('HSET', STATS .. ':last_hit', ARGV[5], ARGV[7])
else
  redis.call('HINCRBY', STATS, 'unmatched', 1)
end
return id

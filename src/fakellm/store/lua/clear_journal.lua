-- clear_journal: ARGV prefix. Returns how many entries were dropped; ids keep counting.
local n = redis.call('ZCARD', JOURNAL)
redis.call('DEL', JOURNAL, JOURNAL .. ':entries', JOURNAL .. ':sizes', JOURNAL .. ':latency', JOURNAL .. ':bytes')
return n

-- journal_info: ARGV prefix. Returns {entries held, the oldest id ('' when empty)}.
local oldest = redis.call('ZRANGE', JOURNAL, 0, 0)
return {redis.call('ZCARD', JOURNAL), oldest[1] or ''}

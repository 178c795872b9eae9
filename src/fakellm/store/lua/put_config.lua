-- put_config: ARGV prefix, text, origin, time. Keeps the fleet's config and announces its new
-- version on the config channel. Returns {version, previous text, origin, version, time}.
local key = P .. ':config'
local previous = redis.call('HMGET', key, 'text', 'origin', 'version', 'time')
local version = redis.call('HINCRBY', key, 'version', 1)
redis.call('HSET', key, 'text', ARGV[2], 'origin', ARGV[3], 'time', ARGV[4])
redis.call('PUBLISH', key, version)
return {version, previous[1], previous[2], previous[3], previous[4]}

-- Shared by every script (prepended to each). ARGV[1] is the fleet's key prefix: every key is
-- built from it here, so the scripts run against one Redis (a primary), not a Redis Cluster.
local P = ARGV[1]
local CONVS = P .. ':convs'            -- zset: conversation id -> last use (tick), the LRU order
local TOOLS_PREFIX = P .. ':tools:'    -- zset per conversation: tool result digest -> arrival order
local RESPONSES = P .. ':responses'    -- zset: response id -> last use (tick)
local ITEMS = P .. ':items'            -- hash: output item id -> response id
local BUCKETS = P .. ':buckets'        -- hash: limit + key digest -> "requests tokens when"
local BUCKETS_LRU = P .. ':buckets:lru'
local JOURNAL = P .. ':journal'        -- zset: entry id -> entry id (the order)
local STATS = P .. ':stats'            -- hash: total (the last entry id), unmatched, started

-- One counter orders every use of a conversation, response or bucket across the fleet (exact LRU).
local function tick()
  return redis.call('INCR', P .. ':tick')
end

local function num(x)
  return string.format('%.17g', x)     -- round-trips a double exactly (tostring keeps 14 digits)
end

-- conversations

local function forget_conversation(id)
  redis.call('DEL', P .. ':conv:' .. id, P .. ':hits:' .. id, TOOLS_PREFIX .. id)
end

-- Forget the least recently used members of a sorted set (scored by use) beyond max.
local function evict(set, max, forget)
  local n = redis.call('ZCARD', set)
  while n > max do
    forget(redis.call('ZPOPMIN', set)[1])
    n = n - 1
  end
end

local function evict_conversations(max)
  evict(CONVS, max, forget_conversation)
end

local function rule_generation()
  return redis.call('GET', P .. ':rulegen') or '0'
end

-- Rule counters restart when the rules change (clear_rule_counters bumps the generation): a
-- conversation whose counters are of an older generation drops them on its next use.
local function current_hits(id, conv)
  local gen = rule_generation()
  if redis.call('HGET', conv, 'gen') ~= gen then
    redis.call('DEL', P .. ':hits:' .. id)
    redis.call('HSET', conv, 'gen', gen)
  end
end

local function new_conversation(id, conv, now, max)
  redis.call('HSET', conv, 'requests', 0, 'turn', 0, 'first', now, 'last', now, 'gen', rule_generation())
  redis.call('ZADD', CONVS, tick(), id)
  evict_conversations(max)
end

-- stored responses

local function forget_response(id)
  local key = P .. ':response:' .. id
  local items = redis.call('HGET', key, 'items')
  if items then
    for _, item in ipairs(cjson.decode(items)) do
      if redis.call('HGET', ITEMS, item) == id then
        redis.call('HDEL', ITEMS, item)
      end
    end
  end
  redis.call('DEL', key)
end

local function evict_responses(max)
  evict(RESPONSES, max, forget_response)
end

-- journal

local function trim_journal(max_entries, max_bytes)
  local n = redis.call('ZCARD', JOURNAL)
  local held = tonumber(redis.call('GET', JOURNAL .. ':bytes') or '0')
  -- The oldest go first; the newest entry always stays.
  while n > 1 and (n > max_entries or held > max_bytes) do
    local oldest = redis.call('ZPOPMIN', JOURNAL)[1]
    held = held - tonumber(redis.call('HGET', JOURNAL .. ':sizes', oldest) or '0')
    redis.call('HDEL', JOURNAL .. ':entries', oldest)
    redis.call('HDEL', JOURNAL .. ':sizes', oldest)
    redis.call('HDEL', JOURNAL .. ':latency', oldest)
    n = n - 1
  end
  redis.call('SET', JOURNAL .. ':bytes', held)
end

-- rate-limit buckets: the maths of store/buckets.py, step for step (same doubles, same order)

-- The limits of one call, from ARGV[first]: count, then per limit its field, req_rate, req_cap,
-- tok_rate, tok_cap.
local function read_limits(first)
  local limits = {}
  for i = 1, tonumber(ARGV[first]) do
    local at = first + 1 + (i - 1) * 5
    limits[i] = {field = ARGV[at], req_rate = tonumber(ARGV[at + 1]), req_cap = tonumber(ARGV[at + 2]),
                 tok_rate = tonumber(ARGV[at + 3]), tok_cap = tonumber(ARGV[at + 4])}
  end
  return limits
end

-- buckets.refill, with the store's bookkeeping: a new bucket is full; a known one is used (LRU).
local function bucket(limit, now, max_keys)
  local raw = redis.call('HGET', BUCKETS, limit.field)
  if not raw then
    redis.call('ZADD', BUCKETS_LRU, tick(), limit.field)
    if redis.call('ZCARD', BUCKETS_LRU) > max_keys then
      redis.call('HDEL', BUCKETS, redis.call('ZPOPMIN', BUCKETS_LRU)[1])
    end
    return {limit.req_cap, limit.tok_cap, now}
  end
  redis.call('ZADD', BUCKETS_LRU, tick(), limit.field)
  local entry = {}
  for x in string.gmatch(raw, '%S+') do
    entry[#entry + 1] = tonumber(x)
  end
  local elapsed = now - entry[3]
  if elapsed > 0 then
    entry[1] = math.min(limit.req_cap, entry[1] + elapsed * limit.req_rate)
    entry[2] = math.min(limit.tok_cap, entry[2] + elapsed * limit.tok_rate)
    entry[3] = now
  end
  return entry
end

local function save_bucket(limit, entry)
  redis.call('HSET', BUCKETS, limit.field, num(entry[1]) .. ' ' .. num(entry[2]) .. ' ' .. num(entry[3]))
end

-- settle: ARGV prefix, now, output tokens, max bucket keys, then the limits (see read_limits).
-- Takes the output tokens from each limit's token bucket. Returns the last limit's entry.
local now, used, max_keys = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local entry = nil
for _, limit in ipairs(read_limits(5)) do
  entry = bucket(limit, now, max_keys)
  if limit.tok_rate ~= 0 then
    entry[2] = entry[2] - used
  end
  save_bucket(limit, entry)
end
if entry == nil then
  return {}
end
return {num(entry[1]), num(entry[2]), num(entry[3])}

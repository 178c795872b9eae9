-- admit: ARGV prefix, now, need, max bucket keys, then the limits (see read_limits).
-- buckets.check, then buckets.take when admitted. Returns {wait, limit index, bucket, then each
-- limit's entry as checked: requests left, tokens left, when}.
local now, need, max_keys = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local limits = read_limits(5)
local entries = {}
for i, limit in ipairs(limits) do
  entries[i] = bucket(limit, now, max_keys)
end
local wait, index, which = 0, -1, ''
for i, limit in ipairs(limits) do
  local entry = entries[i]
  if limit.req_rate ~= 0 and entry[1] < 1 then
    local w = (1 - entry[1]) / limit.req_rate
    if w > wait then
      wait, index, which = w, i - 1, 'requests'
    end
  end
  if limit.tok_rate ~= 0 then
    if need > limit.tok_cap then
      wait, index, which = 1 / 0, i - 1, 'too_large'
      break
    end
    if entry[2] < need then
      local w = (need - entry[2]) / limit.tok_rate
      if w > wait then
        wait, index, which = w, i - 1, 'tokens'
      end
    end
  end
end
local out = {num(wait), index, which}
for _, entry in ipairs(entries) do
  out[#out + 1] = num(entry[1])
  out[#out + 1] = num(entry[2])
  out[#out + 1] = num(entry[3])
end
if wait == 0 then
  for i, limit in ipairs(limits) do
    if limit.req_rate ~= 0 then
      entries[i][1] = entries[i][1] - 1
    end
    if limit.tok_rate ~= 0 then
      entries[i][2] = entries[i][2] - need
    end
  end
end
for i, limit in ipairs(limits) do
  save_bucket(limit, entries[i])
end
return out

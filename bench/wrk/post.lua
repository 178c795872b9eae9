-- wrk script for bench/run.py: POST one JSON body, report a JSON summary.
--
-- The body comes from the file named by FAKELLM_BENCH_BODY (headers are given
-- with wrk -H). Usually the request is static, so wrk builds it once and the
-- load generator stays cheap. With FAKELLM_BENCH_DISTINCT set, every request
-- gets its own body instead: "{n}" in the file becomes a number unique to the
-- request (thread and count), so no two requests are the same bytes.
-- done() prints one line starting with "WRKJSON " that run.py parses: counts,
-- every error class, and latency percentiles in us.

local path = os.getenv("FAKELLM_BENCH_BODY")
if path then
  local f = assert(io.open(path, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
end

if os.getenv("FAKELLM_BENCH_DISTINCT") then
  local threads = 0
  local template = wrk.body
  local count = 0

  function setup(thread)
    threads = threads + 1
    thread:set("thread_number", threads)
  end

  function request()
    count = count + 1
    local body = template:gsub("{n}", thread_number .. "-" .. count, 1)
    return wrk.format("POST", nil, nil, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end

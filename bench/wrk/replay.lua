-- Replays a request file (METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY per line, see bench/openloop.py) round-robin,
-- each thread from its own offset; POSTs get a unique Idempotency-Key. Usage:
--   wrk -t2 -c64 -d20s -s bench/wrk/replay.lua http://127.0.0.1:8000 -- bench/var/req/me_credit.tsv
local reqs = {}
local counter = 0
local tid = 0
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
end

local function split(line)
  local out = {}
  for field in string.gmatch(line .. "\t", "([^\t]*)\t") do out[#out + 1] = field end
  return out
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then reqs[#reqs + 1] = split(line) end
  end
  counter = (tid or 1) * 7919
end

function request()
  counter = counter + 1
  local r = reqs[(counter % #reqs) + 1]
  local headers = { ["Accept"] = "application/json" }
  if r[3] ~= "-" then headers["Authorization"] = "Bearer " .. r[3] end
  local body = nil
  if r[1] == "POST" then
    headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = string.format("wrk-%d-%d-%d", tid or 0, counter, math.random(1, 1000000000))
    body = r[4]
  end
  return wrk.format(r[1], r[2], headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("WRK_JSON {\"requests\": %d, \"rps\": %.1f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, " ..
    "\"errors\": %d, \"non2xx_or_timeouts\": %d}\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status + summary.errors.timeout))
end

-- One benchmark scenario for wrk: the request comes from the environment, and at the end
-- one line "BENCH_JSON {...}" carries the figures bench/run.py reads.
--
--   BENCH_METHOD   GET, POST, ...            BENCH_PATH   the path and query
--   BENCH_HEADERS  "Name: value" lines       BENCH_BODY   the request body, if any
--   BENCH_EXPECT   the status every answer must have (others are counted as unexpected)

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
end
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name ~= nil then
    wrk.headers[name] = value
  end
end
local expected = tonumber(os.getenv("BENCH_EXPECT") or "200")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  unexpected = 0
  first_unexpected = 0
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
    if first_unexpected == 0 then
      first_unexpected = status
    end
  end
end

function done(summary, latency, requests)
  local unexpected_total, first = 0, 0
  for _, thread in ipairs(threads) do
    unexpected_total = unexpected_total + thread:get("unexpected")
    if first == 0 then
      first = thread:get("first_unexpected")
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
    '"status_errors": %d, "unexpected": %d, "first_unexpected_status": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, errors.connect, errors.read, errors.write, errors.timeout, errors.status,
    unexpected_total, first))
end

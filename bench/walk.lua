-- wrk script for the benchmarks (bench/wrk.py): every request is the next line of a list written
-- beforehand, one request a line: "<Authorization>\t<x-bench-day>\t<JSON body>", POSTed to the
-- URL's path. Arguments after `--`: the list's path, the first line to send (1-based), 1 to
-- cycle through the list or 0 to stop at its end (a benchmark that must never send a line
-- twice: each is a different patient's dose), and the expected status (201). done() prints one
-- line "WRKJSON {...}": counts, responses with any other status (by status, with a sample
-- body), and every latency in microseconds (wrk's own record, in rank order).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } dk_timespec;
int clock_gettime(int clk_id, dk_timespec *tp);
]]
local clock = ffi.new("dk_timespec")
local function now()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

-- In each thread's Lua state (read by done() through thread:get).
local requests, position, wrap, expect = {}, 1, false, 201
local spill = nil
sent, ok, failed, sample, exhausted, spilled, started, finished = 0, 0, 0, "", 0, 0, 0, 0
statuses = {}

function init(args)
  local path = args[1]
  position = tonumber(args[2])
  wrap = args[3] == "1"
  expect = tonumber(args[4] or "201")
  for line in io.lines(path) do
    local auth, day, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", wrk.path, {
      ["Content-Type"] = "application/json",
      ["Authorization"] = auth,
      ["x-bench-day"] = day,
    }, body)
  end
  -- Sent only if a connection asks for a request after the list ran out: touches nothing.
  spill = wrk.format("GET", "/bench/list-exhausted", {})
end

function request()
  if started == 0 then started = now() end
  if position > #requests then
    if wrap then
      position = 1
    else
      if exhausted == 0 then
        exhausted = 1
        finished = now()
        wrk.thread:stop()
      end
      spilled = spilled + 1
      return spill
    end
  end
  local r = requests[position]
  position = position + 1
  sent = sent + 1
  return r
end

function response(status, headers, body)
  if exhausted == 0 then finished = now() end
  if status == expect then
    ok = ok + 1
  else
    failed = failed + 1
    statuses[status] = (statuses[status] or 0) + 1
    if sample == "" then sample = status .. " " .. string.sub(body, 1, 300) end
  end
end

-- In the main Lua state.
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

local function quote(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, _)
  local total = { sent = 0, ok = 0, failed = 0, exhausted = 0, spilled = 0 }
  local first, last, sample_any, codes = nil, 0, "", {}
  for _, t in ipairs(threads) do
    for key, _ in pairs(total) do total[key] = total[key] + t:get(key) end
    local s, f = t:get("started"), t:get("finished")
    if s > 0 and (first == nil or s < first) then first = s end
    if f > last then last = f end
    if sample_any == "" then sample_any = t:get("sample") end
    for code, n in pairs(t:get("statuses")) do codes[code] = (codes[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(codes) do parts[#parts + 1] = string.format('"%d": %d', code, n) end
  -- Every recorded latency, in rank order (with --timeout far above any latency, wrk records
  -- one per response): the k-th of n is the (k - 0.5)/n quantile. Each call walks wrk's
  -- histogram from its minimum, which is cheap for the counts a block makes.
  local values = {}
  local n = math.min(summary.requests, 50000)
  for k = 1, n do
    values[k] = string.format("%d", latency:percentile(100 * (k - 0.5) / n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "sent": %d, "ok": %d, "failed": %d, ' ..
    '"statuses": {%s}, "sample": %s, "exhausted": %d, "spilled": %d, "active_s": %.6f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latencies_us": [%s]}\n',
    summary.requests, summary.duration, total.sent, total.ok, total.failed,
    table.concat(parts, ", "), quote(sample_any), total.exhausted, total.spilled,
    first and (last - first) or 0, e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(values, ", ")))
end

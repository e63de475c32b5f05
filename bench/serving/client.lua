-- wrk client of the serving benchmark: single-sentence POSTs cycling through a sentence file,
-- the same for every server; at the end one JSON line of counts and latency percentiles (us).
-- Environment: BENCH_SENTENCES (file, one sentence a line), BENCH_PATH (request path),
-- BENCH_FORMAT (text: the sentence as a text/plain body, TorchServe's convention;
-- kserve-v1: {"instances": [sentence]}), BENCH_OUT (where the JSON goes).
local fmt = os.getenv("BENCH_FORMAT") or "text"
local path = os.getenv("BENCH_PATH")
local bodies = {}
for line in io.lines(os.getenv("BENCH_SENTENCES")) do
  if #line > 0 then
    if fmt == "kserve-v1" then
      local s = line:gsub("\\", "\\\\"):gsub('"', '\\"')
      bodies[#bodies + 1] = '{"instances":["' .. s .. '"]}'
    else
      bodies[#bodies + 1] = line
    end
  end
end
local headers = {["Content-Type"] = (fmt == "kserve-v1") and "application/json" or "text/plain"}
local i = 0

function request()
  i = i % #bodies + 1
  return wrk.format("POST", path, headers, bodies[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  local f = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
  f:close()
end

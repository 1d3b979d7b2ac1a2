-- wrk script of bench/storm.sh: invokes (a GET /ping through the connection) on the connections
-- named in STORM_LINKS (comma-separated), in turn, with the API token from BENCH_TOKEN; counts the
-- answers that are not HTTP 200 with the upstream's 200 inside, and prints the count at the end.
-- With STORM_HISTOGRAM set, appends the latency histogram ("microseconds count" lines) to that
-- file, so that several runs can be merged into one distribution.
local links = {}
for link in string.gmatch(assert(os.getenv("STORM_LINKS"), "STORM_LINKS is not set"), "[^,]+") do
  links[#links + 1] = link
end
local threads = {}
local n = 0

wrk.method = "POST"
wrk.body = '{"method":"GET","path":"/ping"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_ok = 0
end

function request()
  n = n + 1
  return wrk.format(nil, "/api/v1/connections/" .. links[n % #links + 1] .. "/invoke")
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"status":200', 1, true) then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("not_ok")
  end
  io.write(string.format("not ok: %d\n", total))
  local path = os.getenv("STORM_HISTOGRAM")
  if path then
    local file = assert(io.open(path, "a"))
    for i = 1, #latency do
      local value, count = latency(i)
      file:write(string.format("%d %d\n", value, count))
    end
    file:close()
  end
end

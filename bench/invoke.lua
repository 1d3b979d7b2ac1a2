-- wrk script of bench/invoke.sh: POST /api/v1/connections/{link}/invoke with a small GET through
-- the connection, and the API token from BENCH_TOKEN.
wrk.method = "POST"
wrk.body = '{"method":"GET","path":"/ping"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")

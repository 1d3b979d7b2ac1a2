// Bursts of concurrent invokes for bench/invoke.sh: ROUNDS times, waits WAIT_MS (long enough for a
// short-lived token to expire), then fires N invokes at once, each on its own kept-alive socket, and
// times each one. Checks every answer (HTTP 200 and the upstream's status 200 inside) and how many
// token requests the upstream saw per round. One unmeasured round first opens the sockets.
//
//   node bench/burst.mjs INVOKE_URL STATS_URL N ROUNDS WAIT_MS     (BENCH_TOKEN: the API token)
//
// Prints one JSON line: {samples, p50_ms, p99_ms, max_ms, errors, token_requests_per_round: [...]}.
import http from "node:http";

const [invokeUrl, statsUrl, n, rounds, waitMs] = process.argv.slice(2);
const N = Number(n);
const agent = new http.Agent({ keepAlive: true, maxSockets: N });
const body = JSON.stringify({ method: "GET", path: "/ping" });
const headers = {
  authorization: `Bearer ${process.env.BENCH_TOKEN}`,
  "content-type": "application/json",
  "content-length": Buffer.byteLength(body),
};

function request(url, options, payload) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, ...options }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(payload);
  });
}

async function invoke() {
  const started = process.hrtime.bigint();
  let ok = false;
  try {
    const res = await request(invokeUrl, { method: "POST", headers }, body);
    ok = res.status === 200 && JSON.parse(res.text).status === 200;
  } catch {}
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, ok };
}

const tokenRequests = async () => {
  const s = JSON.parse((await request(statsUrl, { method: "GET" })).text);
  return s.client_credentials + s.refresh_token;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const burst = () => Promise.all(Array.from({ length: N }, invoke));

await burst(); // opens the sockets; not measured
const latencies = [];
const perRound = [];
let errors = 0;
for (let r = 0; r < Number(rounds); r++) {
  await sleep(Number(waitMs));
  const before = await tokenRequests();
  for (const { ms, ok } of await burst()) {
    latencies.push(ms);
    if (!ok) errors++;
  }
  perRound.push((await tokenRequests()) - before);
}
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
console.log(JSON.stringify({
  samples: latencies.length,
  p50_ms: +pct(50).toFixed(2),
  p99_ms: +pct(99).toFixed(2),
  max_ms: +latencies[latencies.length - 1].toFixed(2),
  errors,
  token_requests_per_round: perRound,
}));
agent.destroy();

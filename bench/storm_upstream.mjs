// The loopback provider of bench/storm.sh: an OAuth 2.0 token endpoint for several clients (one per
// service) and a small API, in one Node `http` server. Tokens carry their own expiry, so the seeded
// ones (bench/storm_seed.py) need no shared state:
//
//   access token   at.<expiry, unix ms>.<random>
//   refresh token  rt.<expiry of the access token it came with, unix ms>.<random>
//
//   node bench/storm_upstream.mjs PORT CLIENT_SECRET
//
//   POST /token   grant_type=refresh_token, client authentication by Basic (any client id, the one
//                 secret). Answers after STORM_DELAY_MS (a provider's own latency), with a new access
//                 token living an hour and a new refresh token; a refresh token works once (a reused
//                 one answers invalid_grant and is counted). The client STORM_LIMITED_CLIENT may make
//                 STORM_LIMIT_PER_SEC token requests per second; beyond that, 429 with Retry-After: 1.
//                 Counts per client the requests in flight at once (the peak) and those that arrived
//                 between 100 ms and 1 s after one of its 429s went out (early: the pause not
//                 honoured; a request that comes sooner was on its way before the 429 reached the
//                 app), and for every refresh how long before its access token's expiry it came
//                 (late: after it). Renewals more than 3 s apart start a new burst (a pass of the
//                 app's background refresher, as the provider sees it).
//   GET  /v1/ping 200 with a live access token; 401 otherwise, counted apart when the token was one
//                 of ours that had expired (an invoke served with an expired token)
//   GET  /stats   the counters as JSON
//
// Prints "listening" once it accepts connections.
import http from "node:http";
import crypto from "node:crypto";

const [port, clientSecret] = process.argv.slice(2);
if (!port || !clientSecret) {
  console.error("usage: node storm_upstream.mjs PORT CLIENT_SECRET");
  process.exit(2);
}
const DELAY_MS = Number(process.env.STORM_DELAY_MS || 5);
const LIMITED = process.env.STORM_LIMITED_CLIENT || "";
const LIMIT_PER_SEC = Number(process.env.STORM_LIMIT_PER_SEC || 0);
const EXPIRES_IN = 3600;

const stats = {
  ping_ok: 0,
  ping_expired: 0,
  ping_unauthorized: 0,
  refreshed: 0,
  refreshed_late: 0,
  min_headroom_ms: null,
  reused: 0,
  throttled: 0,
  token_errors: 0,
  first_request_ms: null,
  last_refresh_ms: null,
  bursts: [], // [first renewal ms, last renewal ms, renewals]
  clients: {},
};
const used = new Set(); // refresh tokens spent
const windows = new Map(); // client -> [second, count]

const client = (id) =>
  (stats.clients[id] ??= { requests: 0, refreshed: 0, throttled: 0, early: 0, in_flight: 0, peak: 0, last_429: 0 });
const random = () => crypto.randomBytes(12).toString("base64url");
const expiryOf = (token, kind) => {
  const m = new RegExp(`^${kind}\\.(\\d+)\\.`).exec(token || "");
  return m ? Number(m[1]) : null;
};

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function authenticated(req) {
  const basic = /^Basic (.+)$/.exec(req.headers.authorization || "");
  if (!basic) return null;
  const [id, secret] = Buffer.from(basic[1], "base64").toString().split(":").map(decodeURIComponent);
  return secret === clientSecret ? id : null;
}

function overLimit(id, now) {
  if (id !== LIMITED || LIMIT_PER_SEC <= 0) return false;
  const second = Math.floor(now / 1000);
  const w = windows.get(id);
  if (!w || w[0] !== second) {
    windows.set(id, [second, 1]);
    return false;
  }
  w[1]++;
  return w[1] > LIMIT_PER_SEC;
}

function token(req, res, raw) {
  const now = Date.now();
  stats.first_request_ms ??= now;
  const id = authenticated(req);
  if (!id) {
    stats.token_errors++;
    return send(res, 401, { error: "invalid_client" });
  }
  const c = client(id);
  c.requests++;
  if (now - c.last_429 > 100 && now - c.last_429 < 1000) c.early++;
  c.in_flight++;
  c.peak = Math.max(c.peak, c.in_flight);
  setTimeout(() => {
    c.in_flight--;
    if (overLimit(id, Date.now())) {
      c.throttled++;
      stats.throttled++;
      c.last_429 = Date.now();
      return send(res, 429, { error: "rate_limited" }, { "retry-after": "1" });
    }
    const form = new URLSearchParams(raw);
    const presented = form.get("refresh_token");
    const expiry = expiryOf(presented, "rt");
    if (form.get("grant_type") !== "refresh_token" || expiry === null) {
      stats.token_errors++;
      return send(res, 400, { error: "invalid_request" });
    }
    if (used.has(presented)) {
      stats.reused++;
      return send(res, 400, { error: "invalid_grant", error_description: "refresh token reused" });
    }
    used.add(presented);
    const at = Date.now();
    const headroom = expiry - at;
    if (headroom <= 0) stats.refreshed_late++;
    stats.min_headroom_ms = stats.min_headroom_ms === null ? headroom : Math.min(stats.min_headroom_ms, headroom);
    stats.refreshed++;
    c.refreshed++;
    stats.last_refresh_ms = at;
    const burst = stats.bursts[stats.bursts.length - 1];
    if (burst && at - burst[1] <= 3000) {
      burst[1] = at;
      burst[2]++;
    } else {
      stats.bursts.push([at, at, 1]);
    }
    const newExpiry = at + EXPIRES_IN * 1000;
    send(res, 200, {
      access_token: `at.${newExpiry}.${random()}`,
      refresh_token: `rt.${newExpiry}.${random()}`,
      token_type: "Bearer",
      expires_in: EXPIRES_IN,
    });
  }, DELAY_MS);
}

const server = http.createServer((req, res) => {
  const path = req.url.split("?", 1)[0];
  if (req.method === "GET" && path === "/v1/ping") {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization || "");
    const expiry = expiryOf(bearer && bearer[1], "at");
    if (expiry === null) {
      stats.ping_unauthorized++;
      return send(res, 401, { error: "unauthorized" });
    }
    if (expiry <= Date.now()) {
      stats.ping_expired++;
      return send(res, 401, { error: "token_expired" });
    }
    stats.ping_ok++;
    return send(res, 200, { ok: true });
  }
  if (req.method === "GET" && path === "/stats") return send(res, 200, stats);
  if (req.method === "POST" && path === "/token") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => token(req, res, Buffer.concat(chunks).toString()));
    return;
  }
  send(res, 404, { error: "not_found" });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), "127.0.0.1", () => console.log("listening"));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));

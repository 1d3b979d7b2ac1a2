// The loopback upstream of bench/invoke.sh: a small API and an OAuth 2.0 token endpoint in one
// Node `http` server, as fast as Node allows (no framework, no logging per request).
//
//   node bench/upstream.mjs PORT API_KEY CLIENT_ID CLIENT_SECRET
//
//   GET  /v1/ping   200 {"ok":true,...} with `X-Api-Key: API_KEY` or `Authorization: Bearer <a live
//                   access token>`; 401 otherwise (counted: the benchmark checks none happened)
//   POST /token     grant_type=client_credentials (client authentication by Basic or in the form)
//                   or refresh_token (rotating: each refresh token works once). The access token
//                   lives EXPIRES_STEADY seconds, or EXPIRES_SHORT when the requested scope contains
//                   "short". No refresh token for client_credentials (RFC 6749 4.4.3).
//   GET  /stats     the counters as JSON
//
// Prints "listening" once it accepts connections.
import http from "node:http";
import crypto from "node:crypto";

const [port, apiKey, clientId, clientSecret] = process.argv.slice(2);
if (!port || !apiKey || !clientId || !clientSecret) {
  console.error("usage: node upstream.mjs PORT API_KEY CLIENT_ID CLIENT_SECRET");
  process.exit(2);
}
const EXPIRES_STEADY = 3600;
const EXPIRES_SHORT = Number(process.env.UPSTREAM_SHORT_EXPIRES_IN || 3);

const stats = { ping_ok: 0, ping_unauthorized: 0, client_credentials: 0, refresh_token: 0, token_errors: 0 };
const accessTokens = new Map(); // token -> expiry (ms)
const refreshTokens = new Set(); // live refresh tokens (each works once)
const PING = JSON.stringify({ ok: true, service: "bench-upstream", items: [1, 2, 3] });

const newToken = () => crypto.randomBytes(24).toString("base64url");

function issue(scope, withRefresh) {
  const expiresIn = /\bshort\b/.test(scope || "") ? EXPIRES_SHORT : EXPIRES_STEADY;
  const access = newToken();
  accessTokens.set(access, Date.now() + expiresIn * 1000);
  const answer = { access_token: access, token_type: "Bearer", expires_in: expiresIn };
  if (scope) answer.scope = scope;
  if (withRefresh) {
    answer.refresh_token = newToken();
    refreshTokens.add(answer.refresh_token);
  }
  return answer;
}

function send(res, status, body) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function clientAuthenticated(req, form) {
  const basic = /^Basic (.+)$/.exec(req.headers.authorization || "");
  if (basic) {
    const [id, secret] = Buffer.from(basic[1], "base64").toString().split(":").map(decodeURIComponent);
    return id === clientId && secret === clientSecret;
  }
  return form.get("client_id") === clientId && form.get("client_secret") === clientSecret;
}

function token(req, res, raw) {
  const form = new URLSearchParams(raw);
  const fail = (status, error) => {
    stats.token_errors++;
    send(res, status, { error });
  };
  if (!clientAuthenticated(req, form)) return fail(401, "invalid_client");
  switch (form.get("grant_type")) {
    case "client_credentials":
      stats.client_credentials++;
      return send(res, 200, issue(form.get("scope"), false));
    case "refresh_token": {
      const presented = form.get("refresh_token");
      if (!refreshTokens.delete(presented)) return fail(400, "invalid_grant");
      stats.refresh_token++;
      return send(res, 200, issue(form.get("scope"), true));
    }
    default:
      return fail(400, "unsupported_grant_type");
  }
}

function authorized(req) {
  if (req.headers["x-api-key"] === apiKey) return true;
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization || "");
  const expiry = bearer && accessTokens.get(bearer[1]);
  return Boolean(expiry && expiry > Date.now());
}

const server = http.createServer((req, res) => {
  const path = req.url.split("?", 1)[0];
  if (req.method === "GET" && path === "/v1/ping") {
    if (!authorized(req)) {
      stats.ping_unauthorized++;
      return send(res, 401, { error: "unauthorized" });
    }
    stats.ping_ok++;
    return send(res, 200, PING);
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

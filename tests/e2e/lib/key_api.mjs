// What the API-key specs share: an app allowed to call loopback, a third-party API on loopback that
// answers with the path and key it received, an admin API token made by the CLI, and a JSON caller.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { startApp } from './app.mjs';

/** Starts the app (loopback allowed), the echoing upstream and an admin token. */
export async function startKeyApi() {
  const app = await startApp({
    env: { CONNECTIONS_OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32', CONNECTIONS_OUTBOUND_ALLOW_HTTP: 'true' },
  });
  const upstream = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, key: req.headers['x-api-key'] || null }));
  });
  await new Promise((done) => upstream.listen(0, '127.0.0.1', done));
  const created = await app.cli(['token', 'create', 'admin', '--label', 'e2e setup']);
  assert.equal(created.code, 0, created.stderr);
  return {
    app,
    upstreamUrl: `http://127.0.0.1:${upstream.address().port}`,
    adminToken: created.stdout.split('\n').find((l) => l.startsWith('cn_')),
    call: (token, method, path, body) => fetch(`${app.baseUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    stop: async () => {
      await new Promise((done) => upstream.close(done));
      await app.stop();
    },
  };
}

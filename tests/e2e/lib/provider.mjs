// A real OAuth 2.0 / OpenID Connect authorization server for the browser suite: the npm package
// oidc-provider 8.x on loopback, with one static confidential client whose redirect URI is the app's
// callback, refresh-token rotation, RFC 7009 revocation, introspection and its dev login/consent
// pages (which a headless browser can fill in). It records the tokens it issues, so that tests can
// ask the provider itself whether an old token still works.

import { once } from 'node:events';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

import { freePort } from './app.mjs';

export const CLIENT_ID = 'connections-e2e';
export const CLIENT_SECRET = 'e2e-client-secret-value';

/**
 * Starts the provider. `redirectUri` is the app's callback URL. Returns
 * { issuer, issued: { access: [], refresh: [] }, counts, introspect(token), refresh(token), stop() }.
 */
export async function startProvider({ redirectUri, accessTokenTtl = 3600 }) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    scopes: ['openid', 'offline_access', 'profile'],
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    ttl: { AccessToken: accessTokenTtl, AuthorizationCode: 60, RefreshToken: 24 * 3600, Grant: 24 * 3600, Session: 3600, Interaction: 3600 },
    cookies: { keys: ['e2e-cookie-key-not-secret'] },
  });
  provider.proxy = false;

  const issued = { access: [], refresh: [] };
  const counts = { authorization_code: 0, refresh_token: 0, revocation: 0, api: 0 };
  provider.on('access_token.saved', (token) => issued.access.push(token.jti));
  provider.on('refresh_token.saved', (token) => issued.refresh.push(token.jti));
  provider.on('grant.success', (ctx) => {
    const grant = ctx.oidc.params?.grant_type;
    if (grant in counts) counts[grant] += 1;
  });
  provider.on('revocation.success', () => { counts.revocation += 1; });

  const server = createServer(provider.callback());
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');

  // A small protected API beside the provider: GET /api/me answers who the Bearer token belongs to,
  // asking the provider itself whether the token is live.
  const apiPort = await freePort();
  const api = createServer(async (req, res) => {
    const token = (req.headers.authorization || '').replace(/^Bearer /, '');
    const info = token ? await introspect(token) : { active: false };
    res.setHeader('content-type', 'application/json');
    if (!info.active) {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: 'invalid_token' }));
      return;
    }
    counts.api += 1;
    res.end(JSON.stringify({ sub: info.sub, scope: info.scope, path: req.url }));
  });
  api.listen(apiPort, '127.0.0.1');
  await once(api, 'listening');

  const basic = 'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
  const post = async (path, form) => {
    const res = await fetch(`${issuer}${path}`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  };

  async function introspect(token) {
    return (await post('/token/introspection', { token })).body;
  }

  return {
    issuer,
    apiUrl: `http://127.0.0.1:${apiPort}/api`,
    issued,
    counts,
    /** RFC 7662 introspection: { active, ... } as the provider sees the token now. */
    introspect,
    /** A refresh with `token`, as a thief holding the old one would try. */
    async refresh(token) {
      return post('/token', { grant_type: 'refresh_token', refresh_token: token });
    },
    async stop() {
      api.closeAllConnections?.();
      await new Promise((r) => api.close(r));
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    },
  };
}

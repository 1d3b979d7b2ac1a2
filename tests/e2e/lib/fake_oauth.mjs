// A small OAuth 2.0 authorization server on loopback that answers the way a given provider documents,
// for the browser suite's catalogue templates whose URLs an admin moved to it:
//
// - 'zendesk': endpoints under a subdomain's path (`/<subdomain>/oauth/authorizations/new`,
//   `/<subdomain>/oauth/tokens`, the API under `/<subdomain>/api/v2`), client credentials in the
//   body, a standard token answer
//   (https://developer.zendesk.com/documentation/ticketing/working-with-oauth/creating-and-using-oauth-tokens-with-the-api/);
// - 'slack': oauth.v2.access answers HTTP 200 with the bot token at the top level, the user token
//   under `authed_user` and the workspace under `team` (https://api.slack.com/methods/oauth.v2.access);
//   its Web API answers `{"ok": true}` only to the user token.
//
// The consent page has one "Allow" button. Every request is recorded ("POST /acme/oauth/tokens").

import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import { freePort } from './app.mjs';

export const CLIENT_ID = 'e2e-template-client';
export const CLIENT_SECRET = 'e2e-template-secret-value';
export const TEAM_ID = 'T0E2ETEAM';

const token = (kind) => `${kind}-${randomBytes(12).toString('hex')}`;

/** Starts the server answering as `style`. Returns { url, requests, issued, apiCalls, stop() }. */
export async function startFakeOAuth(style) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const requests = [];
  const codes = new Map();
  const issued = { access: new Set() };
  /** Calls to the API: the path and whether they carried an access token this server issued. */
  const apiCalls = [];

  const server = createServer(async (req, res) => {
    const at = new URL(req.url, url);
    requests.push(`${req.method} ${at.pathname}`);
    const body = await new Promise((done) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c) => { text += c; });
      req.on('end', () => done(text));
    });
    const json = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(value));
    };

    if (req.method === 'GET' && /\/(authorize|authorizations\/new)$/.test(at.pathname)) {
      const q = at.searchParams;
      if (q.get('client_id') !== CLIENT_ID || q.get('response_type') !== 'code') {
        return json(400, { error: 'invalid_request' });
      }
      const approve = new URL(`${at.pathname.replace(/[^/]+(\/new)?$/, '')}approve`, url);
      approve.search = at.search;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(`<!doctype html><title>Authorize</title>
        <body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto">
        <h1>Authorize Connections?</h1><p>It asks for: ${q.get('scope') || q.get('user_scope') || 'basic access'}</p>
        <a id="allow" href="${approve.pathname}${approve.search}" style="padding: .5rem 1rem; background: #4f46e5; color: #fff; border-radius: 6px; text-decoration: none">Allow</a></body>`);
    }
    if (req.method === 'GET' && at.pathname.endsWith('/approve')) {
      const q = at.searchParams;
      const code = token('code');
      codes.set(code, { redirect: q.get('redirect_uri'), challenge: q.get('code_challenge') });
      const back = new URL(q.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state'));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === 'POST' && /\/(oauth\/tokens|oauth\.v2\.access)$/.test(at.pathname)) {
      const form = new URLSearchParams(body);
      const grant = codes.get(form.get('code'));
      codes.delete(form.get('code'));
      const clientOk = form.get('client_id') === CLIENT_ID && form.get('client_secret') === CLIENT_SECRET;
      const pkceOk = !grant?.challenge
        || createHash('sha256').update(form.get('code_verifier') || '').digest('base64url') === grant.challenge;
      if (!clientOk) return style === 'slack' ? json(200, { ok: false, error: 'bad_client_secret' }) : json(401, { error: 'invalid_client' });
      if (!grant || grant.redirect !== form.get('redirect_uri') || !pkceOk) {
        return style === 'slack' ? json(200, { ok: false, error: 'invalid_code' }) : json(400, { error: 'invalid_grant' });
      }
      const access = token(style === 'slack' ? 'xoxp' : 'zd');
      issued.access.add(access);
      if (style === 'slack') {
        return json(200, {
          ok: true, app_id: 'A0E2E', access_token: token('xoxb'), token_type: 'bot', scope: 'commands',
          team: { id: TEAM_ID, name: 'E2E Workspace' },
          authed_user: { id: 'U0E2E', scope: 'search:read,users:read', access_token: access, token_type: 'user' },
        });
      }
      return json(200, { access_token: access, token_type: 'bearer', scope: 'read' });
    }
    const bearer = (req.headers.authorization || '').replace(/^Bearer /, '');
    apiCalls.push({ path: at.pathname, issued: issued.access.has(bearer) });
    if (!issued.access.has(bearer)) {
      return style === 'slack' ? json(200, { ok: false, error: 'invalid_auth' }) : json(401, { error: 'invalid_token' });
    }
    return json(200, style === 'slack' ? { ok: true, team_id: TEAM_ID, user_id: 'U0E2E' } : { user: { id: 1, name: 'Agent' } });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url,
    requests,
    issued,
    apiCalls,
    async stop() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    },
  };
}

// Using a connection against a real provider: a script invokes a protected API through the app,
// the access token expires, the next invoke refreshes it exactly once (with rotation), and the old
// refresh token is dead at the provider.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, signIn, startApp } from '../lib/app.mjs';
import { CLIENT_ID, CLIENT_SECRET, startProvider } from '../lib/provider.mjs';

const ACCESS_TOKEN_TTL = 6;

describe('invoking a connection with refresh-token rotation', () => {
  let browser;
  let app;
  let provider;
  let apiToken;

  before(async () => {
    browser = await launchBrowser();
    app = await startApp({
      env: {
        CONNECTIONS_OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32',
        CONNECTIONS_OUTBOUND_ALLOW_HTTP: 'true',
        CONNECTIONS_REFRESH_MARGIN_SECS: '1',
        CONNECTIONS_REFRESH_INTERVAL_SECS: '0',
      },
    });
    provider = await startProvider({ redirectUri: `${app.baseUrl}/integration/oauth/callback`, accessTokenTtl: ACCESS_TOKEN_TTL });
    const created = await app.cli(['token', 'create', 'admin', '--label', 'e2e script']);
    assert.equal(created.code, 0, created.stderr);
    apiToken = created.stdout.split('\n').find((l) => l.startsWith('cn_'));
  });

  after(async () => {
    await browser?.close();
    await provider?.stop();
    await app?.stop();
  });

  const api = (path, body) => fetch(`${app.baseUrl}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

  it('connects through the API and the consent pages, then invokes, refreshes once and rotates', async () => {
    let res = await api('/services', {
      name: 'Demo API', link_name: 'demo_api', auth_type: 'oauth2', api_base_url: provider.apiUrl,
      oauth2: {
        client_id: CLIENT_ID, client_secret: CLIENT_SECRET,
        authorization_url: `${provider.issuer}/auth`, token_url: `${provider.issuer}/token`,
        revoke_url: `${provider.issuer}/token/revocation`, issuer: provider.issuer,
        extra_auth_params: { prompt: 'consent' },
        scopes: [{ scope: 'openid', display_name: 'Identity' }, { scope: 'offline_access', display_name: 'Offline' }],
      },
    });
    assert.equal(res.status, 201, await res.text());
    res = await api('/connections', { service: 'demo_api', name: 'Demo API', link_name: 'demo', scopes: ['openid', 'offline_access'] });
    assert.equal(res.status, 201, await res.text());
    res = await api('/connections/demo/authorize', {});
    const { authorization_url: consentUrl } = await res.json();
    assert.ok(consentUrl.startsWith(provider.issuer));

    // The consent happens in the token owner's signed-in browser.
    const page = await (await browser.newContext()).newPage();
    await signIn(page, app.baseUrl, 'admin', app.adminPassword);
    await page.goto(consentUrl);
    await page.fill('input[name=login]', 'bob');
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${app.baseUrl}/admin/connections/demo`);

    res = await api('/connections/demo/invoke', { method: 'GET', path: '/me' });
    let answer = await res.json();
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.equal(answer.status, 200, `${answer.body} ${JSON.stringify(provider.counts)}`);
    assert.equal(JSON.parse(answer.body).sub, 'bob');
    assert.equal(provider.counts.refresh_token, 0);
    const [oldRefresh] = provider.issued.refresh;

    await sleep((ACCESS_TOKEN_TTL + 1) * 1000);
    res = await api('/connections/demo/invoke', { method: 'GET', path: '/me' });
    answer = await res.json();
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).sub, 'bob', 'the invoke works after expiry');
    assert.equal(provider.counts.refresh_token, 1, 'exactly one refresh');
    assert.equal(provider.issued.refresh.length, 2, 'the provider rotated the refresh token');
    assert.equal(JSON.stringify(answer).includes(provider.issued.access.at(-1)), false, 'no token in the answer');

    // A second invoke uses the stored token: still one refresh.
    res = await api('/connections/demo/invoke', { method: 'GET', path: '/me' });
    assert.equal((await res.json()).status, 200);
    assert.equal(provider.counts.refresh_token, 1);

    // Last, because the provider answers a reused refresh token by revoking the whole grant.
    const reuse = await provider.refresh(oldRefresh);
    assert.equal(reuse.body.error, 'invalid_grant', 'the old refresh token is dead');
  });
});

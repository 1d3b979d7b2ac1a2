// Connections against a real OAuth 2.0 authorization server (oidc-provider 8.x) in a real browser:
// create an OAuth2 service, create and connect a connection through the provider's consent pages,
// then revoke it from the row's hover actions and ask the provider whether the old tokens still work.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, screenshot, signIn, startApp } from '../lib/app.mjs';
import { CLIENT_ID, CLIENT_SECRET, startProvider } from '../lib/provider.mjs';

const LOOPBACK = { CONNECTIONS_OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32', CONNECTIONS_OUTBOUND_ALLOW_HTTP: 'true' };

describe('connections with a real OAuth 2.0 provider', () => {
  let browser;
  let app;
  let provider;
  let page;

  before(async () => {
    browser = await launchBrowser();
    app = await startApp({ env: LOOPBACK });
    provider = await startProvider({ redirectUri: `${app.baseUrl}/integration/oauth/callback` });
    page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(page, app.baseUrl, 'admin', app.adminPassword);
  });

  after(async () => {
    await browser?.close();
    await provider?.stop();
    await app?.stop();
  });

  it('registers the provider as an OAuth2 custom service', async () => {
    await page.goto(`${app.baseUrl}/admin/services/new`);
    await page.check('input[name=auth_type][value=oauth2]');
    await page.fill('#service-name', 'Demo Identity');
    await page.fill('input[name=client_id]', CLIENT_ID);
    await page.fill('input[name=client_secret]', CLIENT_SECRET);
    await page.fill('input[name=authorization_url]', `${provider.issuer}/auth`);
    await page.fill('input[name=token_url]', `${provider.issuer}/token`);
    await page.fill('input[name=revoke_url]', `${provider.issuer}/token/revocation`);
    await page.fill('input[name=issuer]', provider.issuer);
    const scopes = page.locator('#scope-rows li');
    await scopes.nth(0).locator('input[name=scope]').fill('openid');
    await scopes.nth(0).locator('input[name=scope_display]').fill('Sign-in identity');
    await page.getByRole('button', { name: 'Add scope' }).click();
    await scopes.nth(1).waitFor();
    await scopes.nth(1).locator('input[name=scope]').fill('offline_access');
    await scopes.nth(1).locator('input[name=scope_display]').fill('Stay connected (refresh token)');
    // oidc-provider grants offline_access only with prompt=consent.
    await page.getByRole('button', { name: 'Add parameter' }).last().click();
    await page.locator('#extra-rows li').first().waitFor();
    await page.locator('#extra-rows input[name=extra_key]').fill('prompt');
    await page.locator('#extra-rows input[name=extra_value]').fill('consent');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/services\/demo_identity$/);
  });

  it('creates and connects a connection through the consent redirect', async () => {
    await page.goto(`${app.baseUrl}/admin/connections/new?service=demo_identity`);
    await page.fill('#connection-name', 'Demo Identity (ops)');
    assert.equal(await page.inputValue('#connection-link-name'), 'demo_identity_ops');
    await page.getByLabel('Sign-in identity').check();
    await page.getByLabel('Stay connected (refresh token)').check();
    await screenshot(page, 'connection-form');
    await page.getByRole('button', { name: 'Create and Connect' }).click();

    // The provider's own pages: its dev login form, then its consent screen.
    await page.waitForURL((url) => url.origin === provider.issuer);
    await page.fill('input[name=login]', 'alice');
    await page.fill('input[name=password]', 'any-password');
    await page.click('button[type=submit]');
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.waitForURL(`${app.baseUrl}/admin/connections/demo_identity_ops`);
    assert.doesNotMatch(page.url(), /code=|state=/, 'the code and state never stay in the address bar');
    const main = await page.locator('main').innerText();
    assert.match(await page.locator('#flash').innerText(), /is connected/);
    assert.match(main, /Connected/);
    assert.match(main, /Granted scopes\s+openid offline_access/);
    assert.equal(provider.counts.authorization_code, 1, 'the code was exchanged once');
    assert.equal(provider.issued.refresh.length, 1);
    await screenshot(page, 'connection-details');
  });

  it('revokes from the row hover actions; the provider then rejects the old tokens', async () => {
    const [accessToken] = provider.issued.access.slice(-1);
    const [refreshToken] = provider.issued.refresh.slice(-1);
    assert.equal((await provider.introspect(accessToken)).active, true, 'the token works before the revoke');

    await page.goto(`${app.baseUrl}/admin/connections`);
    await screenshot(page, 'connection-list');
    const row = page.locator('tbody tr', { hasText: 'Demo Identity (ops)' });
    await page.mouse.move(0, 0);
    await row.hover();
    await row.getByRole('link', { name: 'Revoke Demo Identity (ops)' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await page.waitForURL(/\/admin\/connections\/demo_identity_ops$/);
    const main = await page.locator('main').innerText();
    assert.match(main, /Disconnected/);
    assert.match(main, /Revoked at the provider/);

    assert.equal((await provider.introspect(accessToken)).active, false, 'the access token is dead at the provider');
    const reuse = await provider.refresh(refreshToken);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant', 'the refresh token is dead at the provider');
  });
});

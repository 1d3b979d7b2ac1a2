// A restricted API token made in the browser and used from a script: the connection page links to the
// form, the token is shown once with its curl command, it invokes its connection and nothing else, and
// revoking it in Admin > API Tokens stops it at once.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, screenshot, signIn } from '../lib/app.mjs';
import { startKeyApi } from '../lib/key_api.mjs';

describe('API tokens from the browser', () => {
  let browser;
  let env;
  let app;
  let upstreamUrl;
  let adminToken;
  let call;

  before(async () => {
    browser = await launchBrowser();
    // A third-party API on loopback that answers with the key it received.
    env = await startKeyApi();
    ({ app, upstreamUrl, adminToken, call } = env);
  });

  after(async () => {
    await browser?.close();
    await env?.stop();
  });

  it('makes a token restricted to a connection, shows it once, and the script may only invoke', async () => {
    let res = await call(adminToken, 'POST', '/services', {
      name: 'Helpdesk', link_name: 'helpdesk', auth_type: 'api_key', api_base_url: `${upstreamUrl}/api`,
      api_key: { param_type: 'header', params: [{ name: 'X-Api-Key', display_name: 'API Key' }] },
    });
    assert.equal(res.status, 201, await res.text());
    for (const link of ['desk', 'billing']) {
      const body = { service: 'helpdesk', name: `Helpdesk ${link}`, link_name: link };
      res = await call(adminToken, 'POST', '/connections', body);
      assert.equal(res.status, 201, await res.text());
      const credentials = { params: { 'X-Api-Key': `key-${link}` } };
      res = await call(adminToken, 'PUT', `/connections/${link}/credentials`, credentials);
      assert.equal(res.status, 200, await res.text());
    }

    const page = await (await browser.newContext()).newPage();
    await signIn(page, app.baseUrl, 'admin', app.adminPassword);
    await page.goto(`${app.baseUrl}/admin/connections/desk`);
    await page.click('#new-restricted-token');
    await page.waitForURL(`${app.baseUrl}/admin/tokens/new?connection=desk`);
    assert.ok(await page.isChecked('input[name=connection][value=desk]'));
    assert.ok(!(await page.isChecked('input[name=connection][value=billing]')));
    await page.fill('input[type=search][data-filter-checks]', 'bill');
    assert.ok(!(await page.isVisible('input[name=connection][value=desk]')), 'the filter hides desk');
    await page.fill('input[type=search][data-filter-checks]', '');
    await page.fill('input[name=label]', 'Nightly desk sync');
    await screenshot(page, 'token-form');
    await page.getByRole('button', { name: 'Create Token' }).click();
    const token = (await page.textContent('#new-token')).trim();
    assert.match(token, /^cn_/);
    assert.ok((await page.textContent('#token-snippet')).includes('/api/v1/connections/desk/invoke'));
    await screenshot(page, 'token-created');

    // The script: its connection works, nothing else does.
    res = await call(token, 'POST', '/connections/desk/invoke', { method: 'GET', path: '/tickets' });
    const answer = await res.json();
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.equal(JSON.parse(answer.body).path, '/api/tickets');
    res = await call(token, 'POST', '/connections/billing/invoke', { method: 'GET', path: '/x' });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.message, 'This token may only invoke: desk.');
    res = await call(token, 'GET', '/connections');
    assert.equal(res.status, 403);

    // Never shown again; revoked from Admin > API Tokens, it stops at once.
    await page.goto(`${app.baseUrl}/admin/tokens`);
    assert.ok(!(await page.content()).includes(token));
    await screenshot(page, 'tokens-list');
    const row = page.locator('tr', { hasText: 'Nightly desk sync' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.waitForURL(`${app.baseUrl}/admin/tokens`);
    assert.ok((await page.textContent('#flash')).includes('is revoked'));
    res = await call(token, 'POST', '/connections/desk/invoke', { method: 'GET', path: '/tickets' });
    assert.equal(res.status, 401);
  });
});

// Where credentials may go, in a real browser: an edit that moves a service's API base URL to another
// host asks for a confirmation naming the connections it sets aside, and the owner's connection then
// says why it needs a reconnect; a list row's Connect for an OAuth2 connection first says where the
// browser is going. Nothing here calls the services: their URLs only have to parse.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, screenshot, signIn, startApp } from '../lib/app.mjs';

describe('destinations of credentials', () => {
  let browser;
  let app;
  let page;

  before(async () => {
    browser = await launchBrowser();
    app = await startApp({ env: { CONNECTIONS_OUTBOUND_ALLOW_HTTP: 'true' } });
    page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(page, app.baseUrl, 'admin', app.adminPassword);
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('asks before an edit sends credentials to a new host, then the connection says why it needs a reconnect', async () => {
    await page.goto(`${app.baseUrl}/admin/services/new`);
    await page.fill('#service-name', 'Ticket Desk');
    await page.fill('input[name=api_base_url]', 'http://desk.invalid/api');
    await page.check('input[name=auth_type][value=api_key]');
    const row = page.locator('#param-rows li').first();
    await row.locator('input[name=param_name]').fill('X-Api-Key');
    await row.locator('input[name=param_display]').fill('API key');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/services\/ticket_desk$/);

    await page.goto(`${app.baseUrl}/admin/connections/new?service=ticket_desk`);
    await page.fill('#connection-name', 'Desk (ops)');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/connections\/desk_ops$/);
    await page.locator('#connect-button').click();
    await page.fill('input[name="param.X-Api-Key"]', 'a-key-that-goes-nowhere');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.waitForURL(/\/admin\/connections\/desk_ops$/);
    assert.match(await page.locator('main').innerText(), /Connected/);

    await page.goto(`${app.baseUrl}/admin/services/ticket_desk/edit`);
    await page.fill('input[name=api_base_url]', 'http://elsewhere.invalid/api');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const panel = page.locator('.confirm-panel');
    await panel.waitFor();
    const text = await panel.innerText();
    assert.match(text, /Credentials would go to a new address/);
    assert.match(text, /Desk \(ops\).*owned by admin/);
    await screenshot(page, 'service-confirm-destinations');
    await panel.getByRole('button', { name: 'Save and set aside 1 connection(s)' }).click();
    await page.waitForURL(/\/admin\/services\/ticket_desk$/);

    await page.goto(`${app.baseUrl}/admin/connections/desk_ops`);
    const main = await page.locator('main').innerText();
    assert.match(main, /Needs reconnect/);
    assert.match(main, /admin changed where the service .Ticket Desk. sends credentials/);
    await screenshot(page, 'connection-set-aside');
  });

  it('a list row’s Connect for an OAuth2 connection says where the browser goes before it goes', async () => {
    await page.goto(`${app.baseUrl}/admin/services/new`);
    await page.fill('#service-name', 'Identity');
    await page.check('input[name=auth_type][value=oauth2]');
    await page.fill('input[name=client_id]', 'client-1');
    await page.fill('input[name=authorization_url]', 'http://login.invalid/authorize');
    await page.fill('input[name=token_url]', 'http://login.invalid/token');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/services\/identity$/);
    await page.goto(`${app.baseUrl}/admin/connections/new?service=identity`);
    await page.fill('#connection-name', 'Identity (ops)');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/connections\/identity_ops$/);

    await page.goto(`${app.baseUrl}/admin/connections`);
    const listRow = page.locator('tbody tr', { hasText: 'Identity (ops)' });
    await listRow.hover();
    await listRow.getByRole('link', { name: 'Connect Identity (ops)' }).click();
    await page.waitForURL(/\/admin\/connections\/identity_ops\/connect$/);
    const main = await page.locator('main').innerText();
    assert.match(main, /Your browser goes to http:\/\/login\.invalid,/);
    const href = await page.locator('#connect-button').getAttribute('href');
    assert.match(href, /\/connect\?nonce=/, 'a single-use nonce, never the CSRF token');
    await screenshot(page, 'connect-continue');
  });
});

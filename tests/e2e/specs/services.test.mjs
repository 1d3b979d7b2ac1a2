// Custom services in a real browser: the form's dynamic rows and sections, search, and the hover
// actions of a list row.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, screenshot, signIn, startApp } from '../lib/app.mjs';

describe('custom services', () => {
  let browser;
  let app;
  let page;

  before(async () => {
    browser = await launchBrowser();
    app = await startApp();
    page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(page, app.baseUrl, 'admin', app.adminPassword);
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('creates an API Key service, adding and removing parameter rows without a reload', async () => {
    await page.goto(`${app.baseUrl}/admin/services/new`);
    await page.fill('#service-name', 'PagerDuty Events');
    assert.equal(await page.inputValue('#service-link-name'), 'pagerduty_events', 'the link name is suggested');
    await page.check('input[name=auth_type][value=api_key]');
    await page.selectOption('select[name=param_type]', 'header');
    const rows = page.locator('#param-rows li');
    await page.getByRole('button', { name: 'Add parameter' }).first().click();
    await page.getByRole('button', { name: 'Add parameter' }).first().click();
    await assert.doesNotReject(rows.nth(2).waitFor());
    assert.equal(await rows.count(), 3, 'two rows added by htmx');
    await rows.nth(0).locator('input[name=param_name]').fill('X-Routing-Key');
    await rows.nth(0).locator('input[name=param_display]').fill('Routing key');
    await rows.nth(1).locator('input[name=param_name]').fill('X-Unused');
    await rows.nth(2).locator('input[name=param_name]').fill('X-Api-Token');
    await rows.nth(2).locator('input[name=param_display]').fill('API token');
    await rows.nth(1).getByRole('button', { name: 'Remove parameter' }).click();
    assert.equal(await rows.count(), 2, 'the row is removed in place');
    await screenshot(page, 'service-form');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/services\/pagerduty_events$/);
    const details = await page.locator('main').innerText();
    assert.match(details, /X-Routing-Key/);
    assert.match(details, /X-Api-Token/);
    assert.doesNotMatch(details, /X-Unused/);
    await screenshot(page, 'service-details');
  });

  it('creates an OAuth2 service with two scopes; the OAuth2 section shows at once', async () => {
    await page.goto(`${app.baseUrl}/admin/services/new`);
    const oauthSection = page.locator('fieldset[data-auth=oauth2]');
    assert.equal(await oauthSection.isVisible(), false);
    await page.check('input[name=auth_type][value=oauth2]');
    assert.equal(await oauthSection.isVisible(), true, 'no reload needed');
    await page.fill('#service-name', 'Zoho Desk');
    await page.fill('input[name=client_id]', '1000.ABCDEF');
    await page.fill('input[name=client_secret]', 'zoho-client-secret');
    await page.fill('input[name=authorization_url]', 'https://accounts.zoho.com/oauth/v2/auth');
    await page.fill('input[name=token_url]', 'https://accounts.zoho.com/oauth/v2/token');
    await page.fill('input[name=token_prefix]', 'Zoho-oauthtoken');
    const scopes = page.locator('#scope-rows li');
    await scopes.nth(0).locator('input[name=scope]').fill('Desk.tickets.READ');
    await scopes.nth(0).locator('input[name=scope_display]').fill('Read tickets');
    await page.getByRole('button', { name: 'Add scope' }).click();
    await scopes.nth(1).waitFor();
    await scopes.nth(1).locator('input[name=scope]').fill('Desk.tickets.UPDATE');
    await scopes.nth(1).locator('input[name=scope_display]').fill('Update tickets');
    assert.match(await page.locator('#callback-url').innerText(), /\/integration\/oauth\/callback$/);
    await screenshot(page, 'service-form-oauth2');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/services\/zoho_desk$/);
    const details = await page.locator('main').innerText();
    assert.match(details, /Read tickets/);
    assert.match(details, /Update tickets/);
    assert.match(details, /Zoho-oauthtoken/);
    assert.doesNotMatch(await page.content(), /zoho-client-secret/, 'the secret is never rendered');
  });

  it('finds a service with the live search and deletes it from the row hover actions', async () => {
    await page.goto(`${app.baseUrl}/admin/services`);
    assert.equal(await page.locator('tbody tr').count(), 2);
    await page.fill('#service-q', 'zoho');
    await page.waitForURL(/q=zoho/);
    await page.locator('tbody tr').first().waitFor();
    assert.equal(await page.locator('tbody tr').count(), 1, 'the search narrows the list without a reload');
    await screenshot(page, 'service-list');
    const row = page.locator('tbody tr', { hasText: 'Zoho Desk' });
    const deleteAction = row.getByRole('link', { name: 'Delete Zoho Desk' });
    await page.mouse.move(0, 0);
    assert.equal(await deleteAction.evaluate((el) => getComputedStyle(el).opacity), '0', 'hidden until hover');
    await row.hover();
    await page.waitForFunction((el) => getComputedStyle(el).opacity === '1', await deleteAction.elementHandle());
    await deleteAction.click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /Delete “Zoho Desk”\?/);
    await screenshot(page, 'service-delete-dialog');
    await dialog.getByRole('button', { name: 'Delete service' }).click();
    await page.waitForURL(/\/admin\/services$/);
    assert.match(await page.locator('#flash').innerText(), /deleted/);
    assert.equal(await page.locator('tbody tr', { hasText: 'Zoho Desk' }).count(), 0);
    assert.equal(await page.locator('tbody tr').count(), 1);
  });
});

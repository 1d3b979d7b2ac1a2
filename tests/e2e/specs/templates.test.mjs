// Service templates in a real browser: the catalogue's search narrows the tiles without a reload, a
// tile opens the Create Service form pre-filled with the provider's settings and setup steps, and the
// service made from it is connected with only the key typed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, screenshot, signIn, startApp } from '../lib/app.mjs';

describe('service templates', () => {
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

  it('creates PagerDuty from the catalogue and connects it with only the key', async () => {
    await page.goto(`${app.baseUrl}/admin/services`);
    await page.getByRole('link', { name: 'From a template' }).click();
    await page.waitForURL(/\/admin\/services\/templates$/);
    const tiles = page.locator('.template-card');
    assert.ok((await tiles.count()) >= 24, 'the whole catalogue');
    await screenshot(page, 'service-templates');
    await page.fill('#template-q', 'pager');
    await page.waitForFunction(() => document.querySelectorAll('.template-card').length === 1);
    assert.match(await tiles.first().innerText(), /PagerDuty/);

    await tiles.first().click();
    await page.waitForURL(/\/admin\/services\/new\?template=pagerduty$/);
    assert.match(await page.locator('.setup-notes').innerText(), /API Access Keys/);
    assert.equal(await page.inputValue('#service-name'), 'PagerDuty');
    assert.equal(await page.inputValue('input[name=param_prefix]'), 'Token token=');
    await screenshot(page, 'service-form-from-template');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/services\/pagerduty$/);
    assert.match(await page.locator('main').innerText(), /Template\s+PagerDuty, version 1/);

    await page.goto(`${app.baseUrl}/admin/connections/new?service=pagerduty`);
    await page.fill('#connection-name', 'PagerDuty (ops)');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/connections\/pagerduty_ops$/);
    await page.locator('#connect-button').click();
    assert.match(await page.locator('main').innerText(), /Token token= followed by what you paste here/);
    await page.fill('input[name="param.Authorization"]', 'u+the-pagerduty-key');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.waitForURL(/\/admin\/connections\/pagerduty_ops$/);
    assert.match(await page.locator('main').innerText(), /Connected/);
  });
});

// Admin > General Settings > Encryption in a real browser: the key ids, which one is active, the
// counts and where the keyring comes from, after `connections keys rotate` beside the running app;
// never a key's bytes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, screenshot, signIn, startApp } from '../lib/app.mjs';

describe('encryption settings', () => {
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

  it('shows the key ids, the active one and the source after a rotation, and no key', async () => {
    const rotated = await app.cli(['keys', 'rotate']);
    assert.equal(rotated.code, 0, rotated.stderr);
    await page.goto(`${app.baseUrl}/admin/connections`);
    await page.getByRole('link', { name: 'Encryption' }).click();
    await page.waitForURL(/\/admin\/settings\/encryption$/);
    const table = await page.locator('#key-table').innerText();
    assert.match(table, /k1\s+Active\s+0/);
    assert.match(table, /k2\s+Not loaded here\s+0/);
    assert.match(await page.locator('#key-source').innerText(), /^file$/);
    const html = await page.content();
    for (const entry of readFileSync(join(app.dataDir, 'encryption.keys'), 'utf8').trim().split(',')) {
      const key = entry.split(':')[1];
      assert.ok(!html.includes(key) && !html.includes(key.slice(0, 12)), 'a key shows on the page');
    }
    await screenshot(page, 'settings-encryption');
  });
});

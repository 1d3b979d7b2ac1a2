// The foundation in a real browser: signing in, the console's shape, the SDAdmin guard, signing
// out, and a Content-Security-Policy that the pages themselves never trip.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, screenshot, signIn, startApp } from '../lib/app.mjs';

const VIEWPORT = { width: 1440, height: 900 };

describe('foundation', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  /** Runs `body(app, page)` with its own app instance and browser context, always cleaned up. */
  async function withAppAndPage(body) {
    const app = await startApp();
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      const page = await context.newPage();
      await body(app, page);
    } finally {
      await context.close();
      await app.stop();
    }
  }

  it('an admin signs in and sees the Connections console', async () => {
    await withAppAndPage(async (app, page) => {
      await page.goto(`${app.baseUrl}/login`);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Sign in');
      await screenshot(page, 'login');

      const response = await signIn(page, app.baseUrl, 'admin', app.adminPassword);
      assert.equal(response?.status(), 200);
      assert.doesNotMatch(new URL(page.url()).pathname, /^\/login/);

      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Connections');
      const tabs = page.getByRole('navigation', { name: 'Connections' }).getByRole('link');
      assert.deepEqual(await tabs.allInnerTexts(), ['My Connections', 'All Connections', 'Custom Services']);

      const breadcrumb = await page.getByRole('navigation', { name: 'Breadcrumb' }).innerText();
      for (const part of ['Admin', 'Developer Space', 'Connections']) {
        assert.ok(breadcrumb.includes(part), `breadcrumb ${JSON.stringify(breadcrumb)} lacks ${part}`);
      }

      const header = await page.locator('header').innerText();
      assert.match(header, /\badmin\b/);
      assert.match(header, /\bSDAdmin\b/);
      await screenshot(page, 'console');

      await Promise.all([page.waitForURL('**/admin/services'), tabs.getByText('Custom Services').click()]);
      const current = page.locator('.tabs [aria-current="page"]');
      assert.equal(await current.innerText(), 'Custom Services');
      assert.match(await page.title(), /^Custom Services\b/);
      assert.match(await page.locator('main').innerText(), /custom services/i);
    });
  });

  it('a technician is refused with a 403 page that names the SDAdmin role', async () => {
    await withAppAndPage(async (app, page) => {
      const added = await app.cli(['user', 'add', 'tech', '--role', 'technician'], 'a-long-password-123\n');
      assert.equal(added.code, 0, `user add failed: ${added.stderr}`);

      const response = await signIn(page, app.baseUrl, 'tech', 'a-long-password-123');
      assert.equal(response?.status(), 403);
      const text = await page.locator('main').innerText();
      assert.match(text, /SDAdmin role is required/);
      assert.doesNotMatch(text, /No connections yet/);
      await screenshot(page, 'forbidden');

      const again = await page.goto(`${app.baseUrl}/admin/services`);
      assert.equal(again?.status(), 403);
    });
  });

  it('signing out returns to the sign-in page and the console then asks to sign in', async () => {
    await withAppAndPage(async (app, page) => {
      await signIn(page, app.baseUrl, 'admin', app.adminPassword);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Connections');

      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
      assert.equal(new URL(page.url()).pathname, '/login');
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Sign in');

      await page.goto(`${app.baseUrl}/admin/connections`);
      assert.equal(new URL(page.url()).pathname, '/login');
      assert.equal(await page.getByRole('button', { name: 'Sign in' }).count(), 1);
    });
  });

  it('console pages load without any Content-Security-Policy violation', async () => {
    await withAppAndPage(async (app, page) => {
      const problems = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(msg.text());
      });
      page.on('pageerror', (err) => problems.push(String(err?.message ?? err)));
      const violations = () => problems.filter((p) => /Content Security Policy|Refused to/i.test(p));

      await page.goto(`${app.baseUrl}/login`);
      await signIn(page, app.baseUrl, 'admin', app.adminPassword);
      for (const path of ['/admin/connections', '/admin/services']) {
        await page.goto(`${app.baseUrl}${path}`, { waitUntil: 'load' });
      }
      assert.deepEqual(violations(), [], `CSP violations:\n${violations().join('\n')}`);

      // The listener really hears violations: an inline style is refused under `style-src 'self'`.
      await page.evaluate(() => {
        const style = document.createElement('style');
        style.textContent = 'body { outline: 1px solid red; }';
        document.head.append(style);
      });
      await page.waitForTimeout(200);
      assert.ok(violations().length > 0, 'an inline <style> should have been refused by the CSP');
    });
  });
});

// Running it as a team from the browser: an admin adds a colleague, who signs in, must change the
// password first, makes a restricted token and uses it from a script; the audit log shows both; the
// admin bulk-revokes three connections and hands one to the colleague.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, screenshot, signIn } from '../lib/app.mjs';
import { startKeyApi } from '../lib/key_api.mjs';

describe('a team in the browser', () => {
  let browser;
  let env;
  let app;
  let upstreamUrl;
  let adminToken;
  let call;
  let admin;

  before(async () => {
    browser = await launchBrowser();
    env = await startKeyApi();
    ({ app, upstreamUrl, adminToken, call } = env);

    let res = await call(adminToken, 'POST', '/services', {
      name: 'Helpdesk', link_name: 'helpdesk', auth_type: 'api_key', api_base_url: `${upstreamUrl}/api`,
      api_key: { param_type: 'header', params: [{ name: 'X-Api-Key', display_name: 'API Key' }] },
    });
    assert.equal(res.status, 201, await res.text());
    for (const link of ['desk', 'billing', 'assets', 'payroll']) {
      res = await call(adminToken, 'POST', '/connections', { service: 'helpdesk', name: `Helpdesk ${link}`, link_name: link });
      assert.equal(res.status, 201, await res.text());
      res = await call(adminToken, 'PUT', `/connections/${link}/credentials`, { params: { 'X-Api-Key': `key-${link}` } });
      assert.equal(res.status, 200, await res.text());
    }
    admin = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(admin, app.baseUrl, 'admin', app.adminPassword);
  });

  after(async () => {
    await browser?.close();
    await env?.stop();
  });

  it('adds a colleague, who changes the password, makes a restricted token and uses it', async () => {
    await admin.goto(`${app.baseUrl}/admin/users/new`);
    await admin.fill('input[name=username]', 'dana');
    await admin.check('input[name=role][value=sdadmin]');
    await admin.check('input[name=password_mode][value=generate]');
    await screenshot(admin, 'user-new');
    await admin.getByRole('button', { name: 'Add user' }).click();
    const initial = (await admin.textContent('#new-password')).trim();
    assert.ok(initial.length >= 12, 'a generated password is shown once');
    await screenshot(admin, 'user-created');

    const dana = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(dana, app.baseUrl, 'dana', initial);
    assert.match(dana.url(), /\/account\/password/, 'the first sign-in asks for a new password');
    await dana.fill('input[name=current_password]', initial);
    await dana.fill('input[name=new_password]', 'dana-own-password-2026');
    await dana.fill('input[name=new_password_again]', 'dana-own-password-2026');
    await dana.getByRole('button', { name: 'Change password' }).click();
    await dana.waitForLoadState();
    assert.doesNotMatch(dana.url(), /\/account\/password/);

    await dana.goto(`${app.baseUrl}/admin/connections/desk`);
    await dana.click('#new-restricted-token');
    await dana.waitForURL(`${app.baseUrl}/admin/tokens/new?connection=desk`);
    await dana.fill('input[name=label]', 'Dana desk script');
    await dana.getByRole('button', { name: 'Create Token' }).click();
    const token = (await dana.textContent('#new-token')).trim();
    let res = await call(token, 'POST', '/connections/desk/invoke', { method: 'GET', path: '/tickets' });
    const answer = await res.json();
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.equal(JSON.parse(answer.body).path, '/api/tickets');
    res = await call(token, 'GET', '/users');
    assert.equal(res.status, 403, 'a restricted token may only invoke');

    await dana.goto(`${app.baseUrl}/account`);
    assert.match(await dana.locator('main').innerText(), /Where you are signed in/);
    await screenshot(dana, 'my-account');

    await admin.goto(`${app.baseUrl}/admin/users`);
    assert.match(await admin.locator('main').innerText(), /dana/);
    await screenshot(admin, 'users-list');

    // Both in the audit log: the admin adding dana, and dana making the token.
    await admin.goto(`${app.baseUrl}/admin/audit`);
    const log = await admin.locator('main table').innerText();
    assert.match(log, /user\.create\b/);
    assert.match(log, /token\.create\b/);
    await screenshot(admin, 'audit-log');
    await admin.goto(`${app.baseUrl}/admin/audit?actor=dana`);
    const danas = await admin.locator('main table').innerText();
    assert.match(danas, /token\.create\b/);
    assert.doesNotMatch(danas, /user\.create\b/, 'the filter keeps only what dana did');
  });

  it('bulk-revokes three connections', async () => {
    await admin.goto(`${app.baseUrl}/admin/connections`);
    for (const link of ['billing', 'assets', 'payroll']) {
      await admin.check(`input[name=link][value=${link}]`);
    }
    await admin.locator('#bulk-connections').getByRole('button', { name: 'Revoke…' }).click();
    await admin.waitForURL(/\/admin\/connections\/bulk/);
    assert.equal((await admin.textContent('#bulk-count')).trim(), '3 items');
    await screenshot(admin, 'bulk-confirm');
    await admin.locator('form.bulk-confirm button[type=submit]').click();
    await admin.waitForLoadState();
    assert.equal(await admin.locator('tr[data-result=done]').count(), 3);
    await screenshot(admin, 'bulk-outcome');
    for (const link of ['billing', 'assets', 'payroll']) {
      const res = await call(adminToken, 'GET', `/connections/${link}`);
      assert.equal((await res.json()).status, 'disconnected', link);
    }
    const res = await call(adminToken, 'GET', '/connections/desk');
    assert.equal((await res.json()).status, 'connected', 'an unselected row is untouched');
  });

  it('transfers a connection to the colleague', async () => {
    await admin.goto(`${app.baseUrl}/admin/connections/desk`);
    await admin.click('#transfer-button');
    await admin.selectOption('select[name=to]', 'dana');
    await admin.getByRole('button', { name: 'Continue' }).click();
    await admin.waitForSelector('#transfer-confirm');
    await screenshot(admin, 'transfer-confirm');
    await admin.locator('#transfer-confirm').getByRole('button', { name: 'Transfer ownership' }).click();
    await admin.waitForURL(`${app.baseUrl}/admin/connections/desk`);
    assert.match(await admin.locator('main').innerText(), /dana/);
    const res = await call(adminToken, 'GET', '/connections/desk');
    assert.equal((await res.json()).owner, 'dana');
  });
});

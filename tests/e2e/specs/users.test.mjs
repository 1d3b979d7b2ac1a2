// Running the portal as a team from the browser: an SDAdmin adds a user with a generated password
// (shown once), the user signs in and is held on the change-password page until they choose their
// own, sees their sessions under My account; the SDAdmin disables them from the confirmation dialog
// and their browser is signed out at once.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, screenshot, signIn, startApp } from '../lib/app.mjs';

describe('Users from the browser', () => {
  let browser;
  let app;

  before(async () => {
    browser = await launchBrowser();
    app = await startApp();
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('adds a user, holds them to a password change, and disables them', async () => {
    const admin = await (await browser.newContext()).newPage();
    await signIn(admin, app.baseUrl, 'admin', app.adminPassword);
    await admin.goto(`${app.baseUrl}/admin/users`);
    await admin.click('#add-user');
    await admin.waitForURL(`${app.baseUrl}/admin/users/new`);
    await admin.fill('input[name=username]', 'carol');
    await admin.check('input[name=role][value=sdadmin]');
    await screenshot(admin, 'user-new');
    await admin.getByRole('button', { name: 'Add user' }).click();
    const password = (await admin.textContent('#new-password')).trim();
    assert.match(password, /^[a-zA-Z2-9]{5}(-[a-zA-Z2-9]{5}){3}$/);
    await screenshot(admin, 'user-created');

    const carol = await (await browser.newContext({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' })).newPage();
    await signIn(carol, app.baseUrl, 'carol', password);
    assert.equal(new URL(carol.url()).pathname, '/account/password');
    await carol.goto(`${app.baseUrl}/admin/connections`);
    assert.equal(new URL(carol.url()).pathname, '/account/password', 'every page leads to the change');
    await carol.fill('input[name=current_password]', password);
    await carol.fill('input[name=new_password]', 'carol-chose-this-one');
    await carol.fill('input[name=new_password_again]', 'carol-chose-this-one');
    await Promise.all([carol.waitForNavigation(), carol.getByRole('button', { name: 'Change password' }).click()]);
    assert.equal(new URL(carol.url()).pathname, '/admin/connections', 'then the page asked for');
    await carol.goto(`${app.baseUrl}/account`);
    assert.ok((await carol.textContent('#session-table')).includes('Firefox 128 on Linux'));
    await screenshot(carol, 'my-account');

    await admin.goto(`${app.baseUrl}/admin/users/carol`);
    await screenshot(admin, 'user-details');
    await admin.click('#disable-button');
    const dialog = admin.locator('#dialog-slot dialog');
    await dialog.waitFor();
    assert.ok((await dialog.textContent()).includes('Disable carol?'));
    await Promise.all([admin.waitForNavigation(), dialog.getByRole('button', { name: 'Disable user' }).click()]);
    assert.ok((await admin.textContent('#flash')).includes('carol is disabled'));
    assert.equal(await admin.getAttribute('#user-status', 'data-status'), 'disabled');

    await carol.goto(`${app.baseUrl}/account`);
    assert.equal(new URL(carol.url()).pathname, '/login', 'signed out at once');
  });
});

// OAuth2 services from the catalogue in a real browser, each connected through a loopback fake that
// answers as its provider documents (lib/fake_oauth.mjs): Zendesk, whose URLs name the connection
// variable {subdomain}, and Slack with a user token nested under authed_user, whose workspace id
// comes back with the token. The admin moves the template's URLs to the fake in the form, as an
// admin may change any field.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { join } from 'node:path';

import { launchBrowser, screenshot, screenshotDir, signIn, startApp } from '../lib/app.mjs';
import { CLIENT_ID, CLIENT_SECRET, TEAM_ID, startFakeOAuth } from '../lib/fake_oauth.mjs';

const LOOPBACK = { CONNECTIONS_OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32', CONNECTIONS_OUTBOUND_ALLOW_HTTP: 'true' };

describe('OAuth2 services from templates', () => {
  let browser;
  let app;
  let page;
  const fakes = {};

  before(async () => {
    browser = await launchBrowser();
    app = await startApp({ env: LOOPBACK });
    fakes.zendesk = await startFakeOAuth('zendesk');
    fakes.slack = await startFakeOAuth('slack');
    page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(page, app.baseUrl, 'admin', app.adminPassword);
  });

  after(async () => {
    await browser?.close();
    await fakes.zendesk?.stop();
    await fakes.slack?.stop();
    await app?.stop();
  });

  /**
   * Saves the part of the page `locator` covers, from a full-page shot taken at the top (an element
   * shot scrolls, and the fixed top bar would then cover its upper edge).
   */
  async function sectionShot(locator, name) {
    await page.evaluate(() => window.scrollTo(0, 0));
    const box = await locator.boundingBox();
    const clip = { x: box.x - 8, y: box.y - 8, width: box.width + 16, height: box.height + 16 };
    await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true, clip });
  }

  /** Opens the catalogue, picks the one tile `search` finds, and fills the client and `urls`. */
  async function fromTemplate(search, id, urls) {
    await page.goto(`${app.baseUrl}/admin/services/templates`);
    await page.fill('#template-q', search);
    await page.waitForFunction(() => document.querySelectorAll('.template-card').length === 1);
    await page.locator('.template-card').first().click();
    await page.waitForURL(new RegExp(`/admin/services/new\\?template=${id}$`));
    await page.fill('input[name=client_id]', CLIENT_ID);
    await page.fill('input[name=client_secret]', CLIENT_SECRET);
    for (const [field, value] of Object.entries(urls)) await page.fill(`input[name=${field}]`, value);
  }

  /** Creates a connection of `service`, connects it through the fake's consent, and returns the page text. */
  async function createAndConnect(service, name, fill) {
    await page.goto(`${app.baseUrl}/admin/connections/new?service=${service}`);
    await page.fill('#connection-name', name);
    await fill();
    await page.getByRole('button', { name: 'Create and Connect' }).click();
    await page.waitForURL((url) => url.pathname.endsWith('/authorize') || url.pathname.endsWith('/authorizations/new'));
    await page.locator('#allow').click();
    await page.waitForURL(/\/admin\/connections\/[a-z0-9_]+$/);
    assert.doesNotMatch(page.url(), /code=|state=/, 'the code and state never stay in the address bar');
    assert.match(await page.locator('#flash').innerText(), /is connected/);
    return page.locator('main').innerText();
  }

  it('connects Zendesk: the subdomain goes into every URL', async () => {
    const base = `${fakes.zendesk.url}/{subdomain}`;
    await fromTemplate('zendesk', 'zendesk', {
      authorization_url: `${base}/oauth/authorizations/new`,
      token_url: `${base}/oauth/tokens`,
      api_base_url: `${base}/api/v2`,
    });
    assert.equal(await page.inputValue('input[name=var_name]'), 'subdomain');
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'template-zendesk-form');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/services\/zendesk$/);

    const main = await createAndConnect('zendesk', 'Zendesk (acme)', async () => {
      await page.fill('input[name="variable.subdomain"]', 'acme');
      await page.check('input[name=scope][value=read]');
    });
    assert.match(main, /Zendesk subdomain\s+acme/);
    assert.match(main, new RegExp(`API base URL\\s+${fakes.zendesk.url}/acme/api/v2`));
    assert.ok(fakes.zendesk.requests.includes('POST /acme/oauth/tokens'), fakes.zendesk.requests.join(', '));
    await screenshot(page, 'template-zendesk-connected');

    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await page.waitForURL(/\/admin\/connections\/zendesk_acme$/);
    assert.match(await page.locator('#flash').innerText(), /Test: .*200/);
    assert.deepEqual(fakes.zendesk.apiCalls.at(-1), { path: '/acme/api/v2/users/me', issued: true });
  });

  it('pre-fills the Zoho CRM data-centre values with their allow-lists', async () => {
    await page.goto(`${app.baseUrl}/admin/services/new?template=zoho_crm`);
    assert.equal(await page.inputValue('input[name=token_url]'), '{accounts_server}/oauth/v2/token');
    const rows = page.locator('#capture-rows > li');
    assert.equal(await rows.count(), 3);
    assert.match(await rows.nth(0).locator('textarea').inputValue(), /^https:\/\/accounts\.zoho\.com\nhttps:\/\/accounts\.zoho\.eu\n/);
    assert.equal(await rows.nth(1).locator('textarea').isVisible(), false, 'location is a label');
    await sectionShot(page.locator('#capture-rows').locator('..'), 'template-zoho-captured-values');
  });

  it('connects Slack with a user token and shows the workspace it belongs to', async () => {
    await fromTemplate('slack (user', 'slack_user', {
      authorization_url: `${fakes.slack.url}/oauth/v2/authorize`,
      token_url: `${fakes.slack.url}/api/oauth.v2.access`,
      api_base_url: `${fakes.slack.url}/api`,
    });
    assert.equal(await page.inputValue('input[name=response_access_token]'), 'authed_user.access_token');
    assert.equal(await page.inputValue('input[name=cap_key]'), 'team.id');
    assert.equal(await page.locator('textarea[name=cap_allowed]').isVisible(), false, 'a label has no allow-list');
    await page.selectOption('select[name=cap_kind]', 'origin');
    assert.equal(await page.locator('textarea[name=cap_allowed]').isVisible(), true);
    await page.selectOption('select[name=cap_kind]', 'label');
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'template-slack-form');
    // The captured values' part of the form on its own, as the whole page is too tall to read.
    await sectionShot(page.locator('#capture-rows').locator('..'), 'template-slack-captured-values');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/admin\/services\/slack_user$/);
    assert.match(await page.locator('main').innerText(), /Captured values\s+\{team_id\} Workspace ID/);
    await sectionShot(page.locator('main section.card').first(), 'template-slack-service');

    const main = await createAndConnect('slack_user', 'Slack (me)', async () => {});
    assert.match(main, new RegExp(`From the provider[\\s\\S]*Workspace ID\\s+${TEAM_ID}`));
    await screenshot(page, 'template-slack-connected');

    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await page.waitForURL(/\/admin\/connections\/slack_me$/);
    assert.match(await page.locator('#flash').innerText(), /Test: /);
    assert.deepEqual(fakes.slack.apiCalls.at(-1), { path: '/api/auth.test', issued: true }, 'the user token, not the bot token');
  });
});

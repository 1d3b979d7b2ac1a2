// Helpers for the browser end-to-end suite: run the real `connections` binary on a free port with a
// throw-away data folder, drive headless Chromium through playwright-core, and save screenshots.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
/** tests/e2e */
export const e2eDir = resolve(here, '..');
/** The repository root. */
export const repoDir = resolve(e2eDir, '..', '..');
export const screenshotDir = join(e2eDir, 'screenshots');

const STARTUP_TIMEOUT_MS = 30_000;
const READY_LINE = /Connections is running at (\S+)/;

/** The binary under test: `CONNECTIONS_BIN`, else the debug build in this checkout. */
export function appBinary() {
  return process.env.CONNECTIONS_BIN || join(repoDir, 'target', 'debug', 'connections');
}

/** A port nobody listens on right now (listen on port 0, read it, close). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** A random password of `length` URL-safe characters. */
export function randomPassword(length = 20) {
  return randomBytes(length).toString('base64url').slice(0, length);
}

/**
 * Starts the app with a fresh data folder and resolves once it prints its URL.
 * Returns { baseUrl, adminPassword, dataDir, cli(args, stdinText), stop() }.
 */
export async function startApp({ env = {} } = {}) {
  const bin = appBinary();
  const dataDir = mkdtempSync(join(tmpdir(), 'connections-e2e-'));
  const adminPassword = randomPassword(20);
  const port = await freePort();
  const appEnv = {
    ...process.env,
    CONNECTIONS_BIND: `127.0.0.1:${port}`,
    DATABASE_URL: `sqlite://${join(dataDir, 'connections.db')}`,
    CONNECTIONS_DATA_DIR: dataDir,
    CONNECTIONS_ADMIN_PASSWORD: adminPassword,
    RUST_LOG: 'warn',
    ...env,
  };

  const child = spawn(bin, [], { cwd: dataDir, env: appEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr += chunk; });

  const cleanUp = () => rmSync(dataDir, { recursive: true, force: true });
  let baseUrl;
  try {
    baseUrl = await new Promise((resolveUrl, reject) => {
      const fail = (why) => {
        clearTimeout(timer);
        reject(new Error(`${why}\n--- ${bin} stdout ---\n${stdout}\n--- stderr ---\n${stderr}`));
      };
      const timer = setTimeout(() => fail(`the app did not start within ${STARTUP_TIMEOUT_MS / 1000} s`), STARTUP_TIMEOUT_MS);
      child.on('error', (e) => fail(`cannot run the app: ${e.message}`));
      child.on('close', (code, signal) => fail(`the app exited before it was ready (code ${code}, signal ${signal})`));
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = stdout.match(READY_LINE);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1].replace(/\/$/, ''));
        }
      });
    });
  } catch (e) {
    child.kill('SIGKILL');
    cleanUp();
    throw e;
  }

  let stopped = false;
  return {
    baseUrl,
    adminPassword,
    dataDir,
    /** Runs `connections <args>` against the same database; resolves to { code, stdout, stderr }. */
    cli(args, stdinText = '') {
      return new Promise((resolveRun, reject) => {
        const run = spawn(bin, args, { cwd: dataDir, env: appEnv, stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        run.stdout.setEncoding('utf8');
        run.stderr.setEncoding('utf8');
        run.stdout.on('data', (c) => { out += c; });
        run.stderr.on('data', (c) => { err += c; });
        run.on('error', reject);
        run.on('close', (code) => resolveRun({ code, stdout: out, stderr: err }));
        // A command that does not read its input may exit first: that is no failure.
        run.stdin.on('error', () => {});
        run.stdin.end(stdinText);
      });
    },
    /** Stops the app and removes its data folder. Safe to call twice. */
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      }
      cleanUp();
    },
  };
}

/** Headless Chromium from the system (`CHROMIUM_BIN`, default /usr/bin/chromium). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Signs in through the login form and waits for the page that follows; resolves to that page's
 * response (after redirects), so callers can check its status.
 */
export async function signIn(page, baseUrl, username, password) {
  await page.goto(`${baseUrl}/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click('form[action="/login"] button[type=submit]'),
  ]);
  return response;
}

/** Saves a full-page PNG to tests/e2e/screenshots/<name>.png and returns its path. */
export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

// Browser test of the gateway's field UI, started by e2e_test.go with a real
// gateway process and simulated scooters. Headless Debian chromium driven by
// playwright-core (no browser download). Talks to the Go harness on stdout:
// "FALL <id>" asks it to make that scooter fall; "BEEPED <id>" names the
// scooter that must have received the 28. Screenshots go to $ARTIFACTS.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const base = process.env.BASE_URL;
const user = process.env.UI_USER, password = process.env.UI_PASSWORD;
const vehicles = (process.env.VEHICLES || '').split(',').filter(Boolean);
const artifacts = process.env.ARTIFACTS;
const timeout = 20000;
fs.mkdirSync(artifacts, { recursive: true });

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldui-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
  viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
});
const page = ctx.pages()[0] || await ctx.newPage();
page.setDefaultTimeout(timeout);
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
// 401s are expected: the session probe before login and the wrong password.
page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text()); });
let n = 0;
const shot = async (name) => {
  const file = path.join(artifacts, String(++n).padStart(2, '0') + '-' + name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  console.log('SCREENSHOT ' + file);
};
const step = (s) => console.log('STEP ' + s);

try {
  step('open the UI: redirected to the login form');
  await page.goto(base + '/');
  await page.waitForSelector('#login-form', { state: 'visible' });
  await shot('login');

  step('a wrong password is refused with a visible message');
  await page.fill('#login-user', user);
  await page.fill('#login-pass', 'not-the-password');
  await page.click('#login-submit');
  await page.waitForSelector('#login-error', { state: 'visible' });
  const msg = await page.textContent('#login-error');
  if (!/wrong username or password/i.test(msg)) throw new Error('login error text: ' + msg);

  step('log in');
  await page.fill('#login-pass', password);
  await page.click('#login-submit');
  await page.waitForSelector('#app', { state: 'visible' });
  await page.waitForSelector('#map-view', { state: 'visible' });

  step('the scooters appear on the map (live stream) over tiles from the configured tile URL');
  await page.waitForFunction((n) => window.fieldMap && window.fieldMap.lastDrawn >= n, vehicles.length);
  await page.waitForSelector('#live.on');
  const zones = await page.evaluate(() => window.fieldMap.zones.length);
  if (zones < 5) throw new Error('zones drawn: ' + zones);
  await page.evaluate(() => { window.__sameDocument = true; });
  await shot('map');

  step('tap a scooter on the map to open its page');
  const target = vehicles[0];
  const pt = await page.evaluate((id) => {
    const d = window.fieldMap.drawn.find((x) => x.id === id);
    const r = document.getElementById('map').getBoundingClientRect();
    return d && [r.left + d.x, r.top + d.y];
  }, target);
  if (!pt) throw new Error(target + ' is not drawn on the map');
  await page.mouse.click(pt[0], pt[1]);
  await page.waitForFunction(() => location.hash.startsWith('#/v/'));
  const opened = await page.evaluate(() => decodeURIComponent(location.hash.slice(4)));
  await page.waitForSelector('#v-actions button[data-action="beep"]');
  const title = await page.textContent('#v-title');
  if (title !== 'Vehicle ' + opened) throw new Error('vehicle page title: ' + title);
  await page.waitForSelector('#v-positions li:not(.muted)');

  step('beep: the scooter\'s ack is shown');
  await page.click('#v-actions button[data-action="beep"]');
  await page.waitForSelector('#v-result[data-outcome="acked"]');
  const beep = await page.textContent('#v-result');
  if (!/Beep: ACKED/.test(beep)) throw new Error('beep result: ' + beep);
  console.log('BEEPED ' + opened);
  await shot('beep-acked');

  step('query parameters: the scooter\'s reply 16 is shown');
  await page.click('#v-actions button[data-action="query_params"]');
  await page.waitForSelector('#v-result[data-outcome="acked"] pre');
  const params = await page.textContent('#v-result');
  if (!/Parameters: ACKED — reply 16/.test(params) || !/battery: \d+/.test(params)) throw new Error('params result: ' + params);
  await page.waitForFunction(() => [...document.querySelectorAll('#v-events li')].some((li) => /command 15 acked/.test(li.textContent)));
  await shot('params-reply');

  step('a scooter falls: it appears in the attention list without a reload');
  const fallen = vehicles.find((v) => v !== opened);
  await page.click('#tab-attention');
  await page.waitForSelector('#attention-view', { state: 'visible' });
  console.log('FALL ' + fallen);
  await page.waitForSelector(`#attention-list a[data-vehicle="${fallen}"] .tag.fallen`);
  if (!(await page.evaluate(() => window.__sameDocument === true))) throw new Error('the page reloaded');
  const badge = Number(await page.textContent('#att-count'));
  if (badge < 1) throw new Error('attention badge: ' + badge);
  await shot('attention-fallen');

  step('search by vehicle number');
  await page.click('#tab-search');
  await page.fill('#search', fallen.slice(-3).toLowerCase());
  await page.waitForSelector(`#search-list a[data-vehicle="${fallen}"]`);
  await shot('search');

  step('log out');
  await page.click('#logout');
  await page.waitForSelector('#login-form', { state: 'visible' });
  if (errors.length) throw new Error('browser errors: ' + errors.join(' | '));
  console.log('E2E OK');
} catch (e) {
  try { await shot('failure'); } catch { /* the page may be gone */ }
  console.error('E2E FAILED: ' + (e && e.stack || e));
  process.exitCode = 1;
} finally {
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

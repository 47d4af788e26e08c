// Drives the dashboard in Debian's headless Chromium against a running
// daemon (started by ../test_dashboard.sh, which passes BASE, the demo
// tokens and ARTIFACTS). Checks that the page asks for a token, refuses a
// wrong one, shows the demo area's numbers, loads nothing from anywhere
// but the daemon, and updates after a referral is posted through the API.
// Screenshots (laptop and tablet) are kept in ARTIFACTS.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.BASE;
const viewer = process.env.VIEWER_TOKEN;
const hub = process.env.HUB_TOKEN;
const artifacts = process.env.ARTIFACTS;
const nhs = process.env.NHS_NUMBER;
if (!base || !viewer || !hub || !artifacts || !nhs) {
  console.error('set BASE, VIEWER_TOKEN, HUB_TOKEN, NHS_NUMBER and ARTIFACTS');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

let passed = 0, failed = 0;
function ok(what) { passed++; console.log('ok - ' + what); }
function bad(what, detail) { failed++; console.log('FAIL: ' + what + (detail ? ': ' + detail : '')); }
async function check(what, fn) {
  try { await fn(); ok(what); } catch (e) { bad(what, e.message.split('\n')[0]); }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function apiGet(path, token) {
  const res = await fetch(base + path, { headers: { Authorization: 'Bearer ' + token } });
  assert(res.ok, `${path}: ${res.status}`);
  return res.json();
}

const WAIT = { timeout: 30000 };
const profile = mkdtempSync(join(tmpdir(), 'caretide-chromium-'));
const outside = [];
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1366, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || await context.newPage();
  page.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith(base + '/') && !u.startsWith('data:')) outside.push(u);
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The wrong token's 401s are expected; any other console error is not.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text());
  });

  const cap = await apiGet('/v1/capacity', viewer);
  const total = cap.totals.total;

  // stale=3: data older than 3 seconds is flagged (tested at the end).
  await page.goto(base + '/?interval=1000&stale=3');
  await check('the page asks for a token', async () => {
    await page.locator('#login').waitFor({ state: 'visible', ...WAIT });
    assert(await page.locator('#board').isHidden(), 'the board shows before sign-in');
    assert(await page.title() !== '', 'no title');
  });
  await check('no escalation level shows before sign-in', async () => {
    assert(!(await page.locator('#escalation-badge').isVisible()), 'a level badge shows on the sign-in page');
  });

  await check('a wrong token is refused with a message', async () => {
    await page.fill('#token', 'not-a-token');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error', { hasText: 'not accepted' }).waitFor(WAIT);
    assert(await page.locator('#board').isHidden(), 'the board shows after a wrong token');
  });

  await check('nothing shows, no level either, until data has arrived', async () => {
    // Hold every API answer until the checks below are done.
    const held = [];
    let first;
    const asked = new Promise((r) => { first = r; });
    await page.route('**/v1/**', (route) => { held.push(route); first(); });
    await page.fill('#token', viewer);
    await page.click('#login-form button[type=submit]');
    await asked;
    const badge = await page.locator('#escalation-badge').isVisible();
    const board = await page.locator('#board').isVisible();
    await page.unroute('**/v1/**');
    for (const r of held) await r.continue().catch(() => {});
    assert(!badge, 'a level badge shows before any data arrived');
    assert(!board, 'the board shows before any data arrived');
  });

  await check('the viewer token opens the board', async () => {
    await page.locator('#board').waitFor({ state: 'visible', ...WAIT });
    const stored = await page.evaluate(() => sessionStorage.getItem('caretide.token'));
    assert(stored === viewer, 'token not kept in sessionStorage');
  });

  await check(`the demo area's numbers: ${total} beds, its facilities`, async () => {
    await page.locator('#t-total', { hasText: total.toLocaleString('en-GB') }).waitFor(WAIT);
    await page.locator('#area-name', { hasText: 'Demo Shire transfer of care hub' }).waitFor(WAIT);
    const title = await page.title();
    assert(title === 'Demo Shire transfer of care hub', 'the page title is not the area name: ' + title);
    await page.locator('#escalation-badge', { hasText: /OPEL [1-4]/ }).waitFor(WAIT);
    for (const f of cap.facilities) {
      const row = page.locator(`#capacity-table tr[data-facility="${f.id}"]`);
      await row.waitFor(WAIT);
      const text = await row.innerText();
      assert(text.includes(f.name), `row of ${f.id} lacks its name: ${text}`);
      assert(text.includes(String(f.totals.total)), `row of ${f.id} lacks ${f.totals.total}: ${text}`);
    }
    const badge = await page.locator('#esc-level').innerText();
    assert(/OPEL [1-4]/.test(badge), 'escalation level: ' + badge);
    assert(await page.locator('#occ-chart svg').count() === 1, 'no occupancy chart');
    assert(await page.locator('#delay-org-chart svg').count() === 1, 'no delays chart');
  });

  const waitingBefore = Number((await page.locator('#t-waiting').innerText()).replace(/,/g, ''));
  let id = 0;
  await check('a referral posted through the API shows up live', async () => {
    const res = await fetch(base + '/v1/referrals', {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + hub, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        nhs_number: nhs, from_org: 'demo-acute', ready_date: '2026-01-05',
        requested_pathway: 'P3', needs: ['hydrotherapy'],
      }),
    });
    const body = await res.json();
    assert(res.status === 201, 'POST /v1/referrals: ' + res.status + ' ' + JSON.stringify(body));
    id = body.referral.id;
    assert(body.decision.outcome === 'waiting', 'expected to wait: ' + body.decision.outcome);
    await page.locator(`#decisions li[data-referral="${id}"]`).waitFor(WAIT);
    const summary = await page.locator(`#decisions li[data-referral="${id}"] summary`).innerText();
    assert(summary === 'Trace (1 plugin step)', 'trace summary: ' + summary);
    await page.locator('#t-waiting', { hasText: String(waitingBefore + 1) }).waitFor(WAIT);
    await page.locator('#waiting-table tr[data-pathway="P3"]').waitFor(WAIT);
  });

  await check('a delay recorded through the API shows by reason and organisation', async () => {
    const res = await fetch(`${base}/v1/referrals/${id}/delay`, {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + hub, 'Content-Type': 'application/json' },
      body: JSON.stringify({ reason: 'awaiting_p3_bed', responsible_org: 'oakwood-care' }),
    });
    assert(res.ok, 'POST delay: ' + res.status + ' ' + await res.text());
    await page.locator('#delay-reason-table tr[data-key="awaiting_p3_bed"]').waitFor({ state: 'attached', ...WAIT });
    await page.locator('#delay-org-table tr[data-key="oakwood-care"]').waitFor({ state: 'attached', ...WAIT });
    await page.locator('#delay-org-chart text', { hasText: 'Oakwood Care Homes' }).first().waitFor(WAIT);
  });

  await check('a referral\'s trace counts its plugin steps in words', async () => {
    const t = await page.locator(`#decisions li[data-referral="${id}"] summary`).innerText();
    assert(/^Trace \((1 plugin step|[02-9]\d* plugin steps)\)$/.test(t), t);
  });

  await check('data older than the set age is flagged in red, the level hidden', async () => {
    await page.route('**/v1/**', (route) => route.abort());
    const banner = page.locator('#stale');
    await banner.waitFor({ state: 'visible', ...WAIT });
    assert(/out of date/.test(await banner.innerText()), await banner.innerText());
    const colour = await banner.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert(colour === 'rgb(176, 0, 32)', 'banner colour ' + colour);
    const size = await banner.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    assert(size >= 28, 'banner text is ' + size + 'px');
    assert(!(await page.locator('#escalation-badge').isVisible()), 'a stale level is still shown');
    await page.screenshot({ path: join(artifacts, 'dashboard-stale.png') });
    await page.unroute('**/v1/**');
    await banner.waitFor({ state: 'hidden', ...WAIT });
    await page.locator('#escalation-badge').waitFor({ state: 'visible', ...WAIT });
  });
  // The aborted requests logged network errors; they were expected.
  errors.splice(0, errors.length, ...errors.filter((e) => !/ERR_FAILED|Failed to fetch|Failed to load resource/.test(e)));

  await check('nothing loaded from outside the daemon', async () => {
    assert(outside.length === 0, outside.join(', '));
  });
  await check('no script errors', async () => {
    assert(errors.length === 0, errors.length + ': ' + errors.slice(0, 3).join(' | '));
  });

  await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
  await page.setViewportSize({ width: 820, height: 1180 });
  // Charts size themselves on the next refresh (every second here).
  const updates = Number(await page.evaluate(() => document.body.dataset.updates));
  await page.waitForFunction((n) => Number(document.body.dataset.updates) > n + 1, updates, WAIT);
  await check('tablet width: no horizontal scrolling of the page', async () => {
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(wide <= 820, 'page is ' + wide + 'px wide');
  });
  await page.screenshot({ path: join(artifacts, 'dashboard-tablet.png'), fullPage: true });
  console.log('screenshots: ' + join(artifacts, 'dashboard.png') + ', ' + join(artifacts, 'dashboard-tablet.png'));
} catch (e) {
  bad('browser session', e.message);
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

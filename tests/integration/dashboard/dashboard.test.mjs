// Drives the dashboard in Debian's headless Chromium against a running
// daemon (started by ../test_dashboard.sh, which passes BASE, the demo
// tokens and ARTIFACTS). Seeds people past their discharge ready date
// through the API, then checks: the sign-in page shows no level; nothing
// shows until data has arrived; the first screen's figures are the
// API's; the charts hold the daily series; the hub sees and sorts the
// list of delayed people and a viewer does not; the wall link opens with
// no sign-in and shows no personal data; stale data is flagged; axe-core
// finds no serious or critical WCAG 2.2 AA violation; nothing is loaded
// from anywhere but the daemon. Screenshots (1400x1000, the 1920x1080
// wall, stale, tablet) are kept in ARTIFACTS.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const base = process.env.BASE;
const viewer = process.env.VIEWER_TOKEN;
const hub = process.env.HUB_TOKEN;
const hospital = process.env.HOSPITAL_TOKEN;
const provider = process.env.PROVIDER_TOKEN;
const display = process.env.DISPLAY_TOKEN;
const artifacts = process.env.ARTIFACTS;
if (!base || !viewer || !hub || !hospital || !provider || !display || !artifacts) {
  console.error('set BASE, VIEWER_TOKEN, HUB_TOKEN, HOSPITAL_TOKEN, PROVIDER_TOKEN, DISPLAY_TOKEN and ARTIFACTS');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

let passed = 0, failed = 0;
function ok(what) { passed++; console.log('ok - ' + what); }
function bad(what, detail) { failed++; console.log('FAIL: ' + what + (detail ? ': ' + detail : '')); }
async function check(what, fn) {
  try { await fn(); ok(what); } catch (e) { bad(what, e.message.split('\n')[0]); }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function call(method, path, token, body) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  assert(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}
const apiGet = (path, token) => call('GET', path, token);

// The n-th valid NHS number of the never-issued 999 range (modulus 11),
// as tests/integration/lib.sh's nhs.
function nhs(n) {
  for (let k = 0; ; k = 1) {
    const b = '999' + String(n * 2 + k).padStart(6, '0');
    let sum = 0;
    for (let i = 0; i < 9; i++) sum += Number(b[i]) * (10 - i);
    const c = (11 - (sum % 11)) % 11;
    if (c !== 10) return b + c;
  }
}
const NHS_RE = /\b999 ?\d{3} ?\d{4}\b/;
const daysAgo = (d) => new Date(Date.now() - d * 86400000).toISOString().slice(0, 10);

// ---- the seeded series ----------------------------------------------------
// Four people past their ready date (16, 5, 2 and 9 days), two attributed
// to Oakwood and the council, one not attributed; one ready today; and a
// hold Oakwood confirms (a provider's response time).
const seeded = [];
async function seed() {
  const plan = [
    { ready: daysAgo(16), pathway: 'P3', delay: { reason: 'awaiting_p3_bed', responsible_org: 'oakwood-care' } },
    { ready: daysAgo(5), pathway: 'P1', delay: { reason: 'awaiting_p1_care', responsible_org: 'demo-council' } },
    { ready: daysAgo(2), pathway: 'P2' },
    { ready: daysAgo(9), pathway: 'P3', delay: { reason: 'awaiting_p3_bed', responsible_org: 'oakwood-care' } },
    { ready: daysAgo(0), pathway: 'P1' },
  ];
  let i = 4000;
  for (const p of plan) {
    const r = await call('POST', '/v1/referrals', hospital, {
      nhs_number: nhs(i++), ready_date: p.ready, requested_pathway: p.pathway, needs: ['hydrotherapy'],
    });
    seeded.push(r.referral.id);
    if (p.delay) await call('POST', `/v1/referrals/${r.referral.id}/delay`, hub, p.delay);
  }
  // A referral with no special needs gets a bed held; Oakwood confirms it.
  const held = await call('POST', '/v1/referrals', hospital, {
    nhs_number: nhs(i++), ready_date: daysAgo(1), requested_pathway: 'P3',
  });
  if (held.decision.outcome === 'held') {
    await call('POST', `/v1/referrals/${held.referral.id}/confirm`, provider, {}).catch(() => {});
  }
}

const WAIT = { timeout: 30000 };
const profile = mkdtempSync(join(tmpdir(), 'caretide-chromium-'));
const outside = [];
const errors = [];
let context;

function watch(page) {
  page.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith(base + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) outside.push(u);
  });
  page.on('pageerror', (e) => errors.push(e.message));
  // The wrong token's 401s, and the requests the test aborts itself, are
  // expected; any other console error (a CSP violation, say) is not.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401|ERR_FAILED|Failed to load resource/.test(m.text())) errors.push(m.text());
  });
}

async function axeCheck(page, what) {
  // Evaluated through the debugging protocol: the page's CSP (script-src
  // 'self') would refuse a <script> tag, and rightly.
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const res = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
  }));
  const serious = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const all = res.violations.map((v) => `${v.id} (${v.impact}, ${v.nodes.length})`).join(', ');
  console.log(`# axe ${what}: ${res.passes.length} rules pass, violations: ${all || 'none'}`);
  assert(serious.length === 0, serious.map((v) => `${v.id}: ${v.help} at ${v.nodes[0].target.join(' ')}`).join('; '));
}

async function updatesAfter(page, n) {
  await page.waitForFunction((k) => Number(document.body.dataset.updates || 0) > k, n, WAIT);
}

try {
  await seed();
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1000 },
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || await context.newPage();
  watch(page);

  const cap = await apiGet('/v1/capacity', viewer);

  // stale=3: data older than 3 seconds is flagged (tested further down).
  await page.goto(base + '/?interval=1000&stale=3');
  await check('the page asks for a token', async () => {
    await page.locator('#login').waitFor({ state: 'visible', ...WAIT });
    assert(await page.locator('#board').isHidden(), 'the board shows before sign-in');
  });
  await check('no escalation level shows before sign-in', async () => {
    assert(!(await page.locator('#escalation-badge').isVisible()), 'a level badge shows on the sign-in page');
  });
  await check('the sign-in page passes axe-core (no serious violation)', () => axeCheck(page, 'sign-in'));

  await check('a wrong token is refused with a message', async () => {
    await page.fill('#token', 'not-a-token');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error', { hasText: 'not accepted' }).waitFor(WAIT);
    assert(await page.locator('#board').isHidden(), 'the board shows after a wrong token');
  });

  await check('nothing shows, no level either, until data has arrived', async () => {
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

  await check('the page title and heading are the area name; the level shows with its reason', async () => {
    await page.locator('#area-name', { hasText: 'Demo Shire transfer of care hub' }).waitFor(WAIT);
    const title = await page.title();
    assert(title === 'Demo Shire transfer of care hub', 'the page title is not the area name: ' + title);
    await page.locator('#escalation-badge', { hasText: /OPEL [1-4]/ }).waitFor(WAIT);
  });

  let today;
  await check('the first screen: people past their ready date now, yesterday and last week, as the API says', async () => {
    await updatesAfter(page, 0);
    today = await apiGet('/v1/reports/today', viewer);
    assert(today.totals.now >= 4, 'seeded 4 people past their ready date, API says ' + today.totals.now);
    await page.locator('#t-delayed', { hasText: String(today.totals.now) }).waitFor(WAIT);
    const cmp = await page.locator('#t-delayed-compare').innerText();
    assert(cmp.includes('yesterday ' + today.totals.yesterday) && cmp.includes('last week ' + today.totals.last_week), cmp);
    assert((await page.locator('#t-long').innerText()) === String(today.totals.by_length['14d+']), 'waiting 14d+');
    assert((await page.locator('#t-max').innerText()) === String(today.totals.max_days), 'longest wait');
    for (const g of today.orgs) {
      const row = page.locator(`#org-table tr[data-key="${g.key}"]`);
      const text = await row.innerText();
      assert(text.includes(g.name), `no full name for ${g.key}: ${text}`);
      const cells = await row.locator('td').allInnerTexts();
      assert(cells[0] === String(g.now) && cells[1] === String(g.yesterday) && cells[2] === String(g.last_week),
        `${g.key}: ${cells.join('|')} against ${g.now}/${g.yesterday}/${g.last_week}`);
    }
    const oak = await page.locator('#org-table tr[data-key="oakwood-care"]').innerText();
    // No reason list in this area (discharge_hub's is plugin data): the code names the reason.
    assert(/awaiting_p3_bed \(2\)/.test(oak), 'Oakwood\'s reason: ' + oak);
    assert(await page.locator('#reason-table tr[data-key="none"]').count() === 1, 'unattributed delays not shown');
  });

  await check('the first screen fits 1400x1000: who is responsible is above the fold', async () => {
    const box = await page.locator('#org-table').boundingBox();
    assert(box && box.y + 40 < 1000, 'organisation table starts at ' + (box && box.y));
  });

  await check('the charts render with the seeded daily series', async () => {
    const daily = await apiGet('/v1/reports/daily', viewer);
    const got = await page.evaluate(() => {
      const c = (id) => window.Chart.getChart(document.getElementById(id));
      const delayed = c('chart-delayed');
      const n = delayed.data.labels.length;
      const sums = Array.from({ length: n }, (_, k) => delayed.data.datasets.reduce((a, d) => a + (d.data[k] || 0), 0));
      return {
        n, sums, orgs: delayed.data.datasets.map((d) => d.label),
        lost: c('chart-lost').data.datasets[0].data,
        level: c('chart-occ-level').data.datasets[1].data,
        confirmed: c('chart-holds').data.datasets[0].data,
        drawn: ['chart-delayed', 'chart-lost', 'chart-occ-level', 'chart-holds', 'chart-occ']
          .every((id) => document.getElementById(id).width > 0),
      };
    });
    assert(got.n === daily.days.length && got.n === 28, 'days: ' + got.n);
    assert(JSON.stringify(got.sums) === JSON.stringify(daily.delayed.total), 'delayed: ' + got.sums + ' against ' + daily.delayed.total);
    assert(daily.delayed.total[27] === today.totals.now, 'today\'s bar is not today\'s figure');
    assert(JSON.stringify(got.lost) === JSON.stringify(daily.bed_days_lost.total), 'bed-days lost');
    assert(daily.bed_days_lost.total.slice(12).some((v) => v >= 2), 'seeded bed-days missing: ' + daily.bed_days_lost.total);
    assert(JSON.stringify(got.level) === JSON.stringify(daily.escalation.max_level), 'levels');
    assert(JSON.stringify(got.confirmed) === JSON.stringify(daily.holds.confirmed), 'holds');
    assert(got.orgs.includes('Oakwood Care Homes Ltd'), 'no Oakwood series: ' + got.orgs);
    assert(got.drawn, 'a chart has no canvas');
  });

  await check('provider response times: a chart per organisation from the providers report', async () => {
    const rep = await apiGet('/v1/reports/providers', viewer);
    const oak = rep.providers.find((p) => p.org === 'oakwood-care');
    assert(oak && oak.confirmed >= 1 && oak.confirm_hours_median !== null, 'Oakwood\'s confirmation missing: ' + JSON.stringify(rep.providers));
    const got = await page.evaluate(() => {
      const c = window.Chart.getChart(document.getElementById('chart-response'));
      return { labels: c.data.labels, median: c.data.datasets[0].data, expired: c.data.datasets[2].data,
        drawn: document.getElementById('chart-response').width > 0 };
    });
    assert(JSON.stringify(got.labels) === JSON.stringify(rep.providers.map((p) => p.name)), 'labels: ' + got.labels);
    assert(JSON.stringify(got.expired) === JSON.stringify(rep.providers.map((p) => p.expired)), 'expired: ' + got.expired);
    const k = got.labels.indexOf(oak.name);
    assert(Math.abs(got.median[k] - oak.confirm_hours_median) < 0.051, 'median: ' + got.median[k] + ' against ' + oak.confirm_hours_median);
    assert(got.drawn, 'the response chart has no canvas');
    const rows = await page.locator('#response-table tbody tr').count();
    assert(rows === rep.providers.length + 1, `${rows} table rows for ${rep.providers.length} providers and the total`);
  });

  await check('providers\' data age: per facility and zone, stale ones named', async () => {
    const rep = await apiGet('/v1/reports/capacity', viewer);
    assert(Array.isArray(rep.providers) && rep.providers.length > 0, 'no providers');
    const rows = await page.locator('#prov-table tbody tr').count();
    assert(rows === rep.providers.length, `${rows} rows for ${rep.providers.length} providers`);
    const zone = await page.locator('#capacity-table tr.zone').first().locator('td').last().innerText();
    assert(zone !== '', 'zone data age is empty');
    const named = await page.locator('#stale-providers').isVisible();
    assert(named === (rep.stale_providers.length > 0), 'stale providers shown: ' + named);
  });

  await check('a viewer sees no list of people and no NHS number', async () => {
    assert(await page.locator('#people-card').isHidden(), 'the delayed people list shows to a viewer');
    const text = await page.locator('body').innerText();
    assert(!NHS_RE.test(text), 'an NHS number on the viewer\'s page: ' + text.match(NHS_RE));
  });

  await check('a viewer sees the waiting list in order, without why or the person', async () => {
    const list = await apiGet('/v1/waiting-list?limit=50', viewer);
    assert(list.waiting.length >= 4, 'seeded people waiting for hydrotherapy beds: ' + list.waiting.length);
    await page.waitForFunction((n) => document.querySelectorAll('#waitlist-table tbody tr[data-referral]').length === n,
      list.waiting.length, WAIT);
    const ids = await page.locator('#waitlist-table tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.referral)));
    assert(JSON.stringify(ids) === JSON.stringify(list.waiting.map((e) => e.id)), 'order: ' + ids);
    assert(await page.locator('#waitlist-table ul.waitwhy').count() === 0, 'a viewer sees why someone waits');
  });

  await check('a referral\'s trace counts its plugin steps in words', async () => {
    const t = await page.locator('#decisions summary').first().innerText();
    assert(/^Trace \((1 plugin step|[02-9]\d* plugin steps)\)$/.test(t), t);
  });

  await check('the board passes axe-core (no serious violation)', () => axeCheck(page, 'board'));
  await page.screenshot({ path: join(artifacts, 'dashboard-1400x1000.png') });
  await page.screenshot({ path: join(artifacts, 'dashboard-full.png'), fullPage: true });

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

  // The hub: the list of delayed people, sortable and exportable.
  const hubPage = await context.newPage();
  watch(hubPage);
  await check('the hub sees the delayed people, sorts them and downloads them as CSV', async () => {
    await hubPage.goto(base + '/?interval=2000');
    await hubPage.fill('#token', hub);
    await hubPage.click('#login-form button[type=submit]');
    await hubPage.locator('#people-card').waitFor({ state: 'visible', ...WAIT });
    const list = await apiGet('/v1/reports/delayed-people', hub);
    await hubPage.waitForFunction((n) => document.querySelectorAll('#people-table tbody tr[data-referral]').length === n,
      list.people.length, WAIT);
    const first = await hubPage.locator('#people-table tbody tr').first().getAttribute('data-referral');
    assert(Number(first) === list.people[0].referral, 'longest wait first: ' + first);
    await hubPage.click('#people-table button[data-sort="days_past_ready"]');
    const after = await hubPage.locator('#people-table tbody tr').first().getAttribute('data-referral');
    assert(Number(after) === list.people[list.people.length - 1].referral, 'sorted ascending: ' + after);
    assert(await hubPage.locator('#people-table th[aria-sort="ascending"]').count() === 1, 'aria-sort');
    const [download] = await Promise.all([hubPage.waitForEvent('download', WAIT), hubPage.click('#people-export')]);
    const csv = readFileSync(await download.path(), 'utf8');
    assert(csv.startsWith('referral,nhs_number,'), csv.slice(0, 80));
    assert(csv.trim().split('\n').length === list.people.length + 1, 'CSV rows');
  });
  await check('the hub sees why each person waits, as the API says, rule by rule', async () => {
    const list = await apiGet('/v1/waiting-list?limit=50', hub);
    const first = list.waiting.find((e) => e.why && e.why.excluded);
    assert(first, 'no waiting referral with why: ' + JSON.stringify(list.waiting[0]));
    const row = hubPage.locator(`#waitlist-table tr[data-referral="${first.id}"]`);
    await row.locator('ul.waitwhy li').first().waitFor(WAIT);
    const tag = row.locator('li[data-rule="tags"][data-tag="hydrotherapy"]');
    assert(await tag.count() === 1, 'the missing tag is not named');
    const n = first.why.excluded.tags.hydrotherapy;
    assert(Number(await tag.getAttribute('data-count')) === n && (await tag.innerText()).includes('without hydrotherapy'),
      'hydrotherapy: ' + (await tag.innerText()) + ' against ' + n);
    for (const rule of ['pathway', 'occupied', 'blocked']) {
      const want = first.why.excluded[rule] || 0;
      const li = row.locator(`li[data-rule="${rule}"]`);
      const got = (await li.count()) ? Number(await li.getAttribute('data-count')) : 0;
      assert(got === want, `${rule}: ${got} against ${want}`);
    }
    const text = await hubPage.locator('#waitlist-table').innerText();
    assert(NHS_RE.test(text) === false, 'the waiting list shows NHS numbers on the board');
  });
  await check('the hub\'s page passes axe-core (no serious violation)', () => axeCheck(hubPage, 'hub'));
  await hubPage.close();

  // The wall: a display link, no sign-in, at 1920x1080.
  const wall = await context.newPage();
  watch(wall);
  await wall.setViewportSize({ width: 1920, height: 1080 });
  await check('the wall link opens the board with no sign-in and no personal data', async () => {
    await wall.goto(base + '/?interval=2000#display=' + encodeURIComponent(display));
    await wall.locator('#board').waitFor({ state: 'visible', ...WAIT });
    assert(await wall.locator('#login').isHidden(), 'the wall asks to sign in');
    await wall.locator('#t-delayed', { hasText: String(today.totals.now) }).waitFor(WAIT);
    const text = await wall.locator('body').innerText();
    assert(!NHS_RE.test(text), 'an NHS number on the wall');
    assert(await wall.locator('#people-card').isHidden(), 'the people list shows on the wall');
    assert(await wall.locator('#decisions-card').isHidden(), 'referral decisions show on the wall');
    const stored = await wall.evaluate(() => sessionStorage.length + localStorage.length);
    assert(stored === 0, 'the display secret was stored');
    // The credential itself reads no person, whatever the page asks.
    const res = await fetch(base + '/v1/reports/delayed-people', { headers: { Authorization: 'Bearer ' + display } });
    assert(res.status === 403, 'a display reads the delayed people: ' + res.status);
  });
  await check('the wall at 1920x1080: the first screen fills it, text large enough for 3 m', async () => {
    const box = await wall.locator('#chart-delayed').boundingBox();
    assert(box && box.y + box.height <= 1080, 'the trend chart is below the fold: ' + JSON.stringify(box));
    const big = await wall.locator('#t-delayed').evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    const body = await wall.locator('#org-table td').first().evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    assert(big >= 64, 'the lead figure is ' + big + 'px');
    assert(body >= 22, 'the table figures are ' + body + 'px');
    const wide = await wall.evaluate(() => document.documentElement.scrollWidth);
    assert(wide <= 1920, 'the wall scrolls sideways: ' + wide);
  });
  await check('the wall passes axe-core (no serious violation)', () => axeCheck(wall, 'wall'));
  await wall.screenshot({ path: join(artifacts, 'dashboard-wall-1920x1080.png') });
  await check('a wrong display link says so in large type and shows nothing', async () => {
    await wall.goto(base + '/#display=not-a-display-link');
    await wall.locator('#stale', { hasText: 'not valid' }).waitFor(WAIT);
    assert(await wall.locator('#board').isHidden(), 'the board shows');
    assert(await wall.locator('#login').isHidden(), 'a sign-in form on a wall');
  });
  await wall.close();

  await check('nothing loaded from outside the daemon', async () => {
    assert(outside.length === 0, outside.join(', '));
  });
  await check('no script errors', async () => {
    assert(errors.length === 0, errors.length + ': ' + errors.slice(0, 3).join(' | '));
  });

  await page.setViewportSize({ width: 820, height: 1180 });
  const updates = Number(await page.evaluate(() => document.body.dataset.updates));
  await updatesAfter(page, updates + 1);
  await check('tablet width: no horizontal scrolling of the page', async () => {
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(wide <= 820, 'page is ' + wide + 'px wide');
  });
  await page.screenshot({ path: join(artifacts, 'dashboard-tablet.png'), fullPage: true });
  console.log('screenshots in ' + artifacts + ': dashboard-1400x1000.png, dashboard-wall-1920x1080.png, dashboard-stale.png, dashboard-tablet.png, dashboard-full.png');
  void cap;
} catch (e) {
  bad('browser session', e.message);
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

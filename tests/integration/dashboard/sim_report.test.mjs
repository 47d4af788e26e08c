// Opens caretide sim's report.html (REPORT, written by ../test_sim_report.sh)
// from the file system in Debian's headless Chromium: no console error and
// no page error, nothing fetched from anywhere (the page is
// self-contained), the summary table holds every variant with its paired
// difference, each chart drew its series with Chart.js, and axe-core finds
// no serious or critical WCAG 2.2 AA violation. A screenshot is kept in
// ARTIFACTS.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const report = process.env.REPORT;
const artifacts = process.env.ARTIFACTS;
if (!report || !artifacts) {
  console.error('set REPORT and ARTIFACTS');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
const url = pathToFileURL(report).href;

let passed = 0, failed = 0;
function ok(what) { passed++; console.log('ok - ' + what); }
function bad(what, detail) { failed++; console.log('FAIL: ' + what + (detail ? ': ' + detail : '')); }
async function check(what, fn) {
  try { await fn(); ok(what); } catch (e) { bad(what, e.message.split('\n')[0]); }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

const profile = mkdtempSync(join(tmpdir(), 'ct-sim-report-'));
const errors = [], outside = [];
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || await context.newPage();
  page.on('request', (req) => { if (req.url() !== url) outside.push(req.url()); });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
  await page.goto(url);
  await check('the report script ran to the end', async () => {
    await page.waitForFunction(() => window.caretideReportReady === true, null, { timeout: 20000 });
  });
  await check('the summary names every variant, base first', async () => {
    const heads = await page.$$eval('#summary tr:first-child th', (t) => t.map((x) => x.textContent));
    assert(JSON.stringify(heads) === JSON.stringify(['figure', 'base', 'surge_2', 'surge_4']), heads.join(','));
  });
  await check('the summary shows intervals and paired differences', async () => {
    const row = await page.$$eval('#summary tr', (rows) => rows.map((r) => r.textContent)
      .find((t) => t.startsWith('bed-days lost to delay')));
    assert(row && /±/.test(row) && /\(-/.test(row), row);
  });
  await check('a difference whose interval excludes 0 is marked', async () => {
    const n = await page.$$eval('#summary td.better, #summary td.worse', (c) => c.length);
    assert(n > 0, 'no cell marked');
  });
  await check('ten charts, each with one line per variant, drawn by Chart.js', async () => {
    const charts = await page.evaluate(() => Array.from(document.querySelectorAll('canvas'))
      .map((c) => { const ch = window.Chart.getChart(c); return ch ? ch.data.datasets.length : -1; }));
    assert(charts.length === 10 && charts.every((n) => n === 3), JSON.stringify(charts));
  });
  await check('the charts hold the days of the run', async () => {
    const n = await page.evaluate(() => window.Chart.getChart(document.querySelector('canvas')).data.labels.length);
    assert(n === 40, 'labels ' + n);
  });
  await check('axe-core: no serious or critical WCAG 2.2 AA violation', async () => {
    await page.evaluate(axeSource);
    const res = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    }));
    const serious = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert(serious.length === 0, serious.map((v) => `${v.id}: ${v.help}`).join('; '));
  });
  await page.screenshot({ path: join(artifacts, 'sim-report.png'), fullPage: true });
  console.log('screenshot in ' + join(artifacts, 'sim-report.png'));
  await check('no console or page error', async () => { assert(errors.length === 0, errors.join(' | ')); });
  await check('nothing fetched: the report is self-contained', async () => {
    assert(outside.length === 0, outside.join(' '));
  });
} catch (e) {
  bad('the browser run', e.message.split('\n')[0]);
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

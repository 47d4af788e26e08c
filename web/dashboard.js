// caretide dashboard: reads the daemon's JSON API with a token kept in
// sessionStorage and redraws every few seconds. No libraries: the page
// must work where nothing but the daemon can be reached. Data is always
// written with textContent or SVG attributes, never parsed as HTML.
'use strict';

(function () {
  const TOKEN_KEY = 'caretide.token';
  const params = new URLSearchParams(location.search);
  const INTERVAL = Math.max(1000, Number(params.get('interval')) || 5000);
  // Data older than this (?stale=SECONDS, default 2 minutes) is flagged in
  // red across the screen: a wall must never look current when it is not.
  const STALE_MS = Math.max(2, Number(params.get('stale')) || 120) * 1000;
  let lastGood = 0; // Date.now() of the last complete refresh, 0 before any
  const SVG = 'http://www.w3.org/2000/svg';
  let timer = null;
  let busy = false;

  const $ = (id) => document.getElementById(id);

  // h('td', {class: 'n'}, 'text', child...): an element with attributes
  // and children (strings become text nodes).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) el.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function s(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  const plural = (n, one) => n + ' ' + one + (n === 1 ? '' : 's');
  const pct = (x) => (x === null || x === undefined ? '-' : (100 * x).toFixed(1) + '%');
  const fmtInt = (n) => (n === null || n === undefined ? '-' : Number(n).toLocaleString('en-GB'));

  function fmtTime(ms, withDate) {
    if (ms === null || ms === undefined) return '-';
    const iso = new Date(ms).toISOString();
    return withDate ? iso.slice(0, 10) + ' ' + iso.slice(11, 16) : iso.slice(11, 16);
  }

  function fmtAge(hours) {
    if (hours === null || hours === undefined) return 'never';
    if (hours < 1) return '<1h';
    if (hours < 48) return Math.round(hours) + 'h';
    return Math.round(hours / 24) + 'd';
  }

  // ---- token and API ------------------------------------------------------

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  class AuthError extends Error {}

  async function api(path) {
    const res = await fetch(path, {
      headers: { Authorization: 'Bearer ' + token(), Accept: 'application/json' },
      cache: 'no-store',
    });
    if (res.status === 401 || res.status === 403) {
      throw new AuthError(res.status === 401 ? 'That token was not accepted.'
        : 'That token may not read this dashboard.');
    }
    const body = await res.json();
    if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
    return body;
  }

  // Shown only once data has arrived, and flagged once it is too old.
  function checkStale() {
    const box = $('stale');
    const stale = lastGood > 0 && Date.now() - lastGood > STALE_MS;
    document.body.classList.toggle('is-stale', stale);
    $('escalation-badge').hidden = !lastGood || stale;
    if (!stale) { box.hidden = true; return; }
    const mins = Math.floor((Date.now() - lastGood) / 60000);
    const age = mins < 1 ? 'less than a minute' : mins === 1 ? '1 minute' : mins + ' minutes';
    box.replaceChildren('Data is out of date: last update ' + fmtTime(lastGood) + ' UTC, ' + age + ' ago',
      h('small', {}, 'The figures below may be wrong. Check this screen\'s network connection and the caretide service.'));
    box.hidden = false;
  }

  function showLogin(message) {
    if (timer) clearTimeout(timer);
    timer = null;
    lastGood = 0;
    checkStale();
    $('board').hidden = true;
    $('sign-out').hidden = true;
    $('escalation-badge').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('token').focus();
  }

  function showBoard() {
    $('login').hidden = true;
    $('board').hidden = false;
    $('sign-out').hidden = false;
  }

  // ---- rendering ----------------------------------------------------------

  function meter(share) {
    const p = Math.max(0, Math.min(1, share || 0));
    return h('span', { class: 'meter' },
      h('span', { class: 'bar', 'aria-hidden': 'true' },
        h('span', { class: 'fill' + (p >= 0.95 ? ' high' : ''), style: null })),
      pct(share));
  }

  function setMeterWidths(root) {
    // Widths through the DOM (CSP forbids inline style attributes).
    root.querySelectorAll('.meter').forEach((m) => {
      const txt = m.lastChild.textContent;
      const v = parseFloat(txt);
      m.querySelector('.fill').style.width = (isNaN(v) ? 0 : Math.min(100, v)) + '%';
    });
  }

  function renderTiles(cap) {
    const m = cap.metrics || {};
    const beds = m.beds || {};
    $('t-total').textContent = fmtInt(cap.totals.total);
    $('t-available').textContent = fmtInt(cap.totals.available);
    $('t-occupancy').textContent = pct(beds.occupancy);
    $('t-waiting').textContent = fmtInt(m.waiting ? m.waiting.total : null);
    $('t-delayed').textContent = fmtInt(m.delayed);
    $('t-bed-days').textContent = fmtInt(m.bed_days_lost ? m.bed_days_lost.total : null);
  }

  function renderCapacity(rep) {
    const rows = [];
    for (const f of rep.facilities) {
      const t = f.totals;
      rows.push(h('tr', { 'data-facility': f.id },
        h('th', { scope: 'row' }, f.name),
        h('td', {}, f.kind.replace('_', ' ')),
        h('td', { class: 'n' }, fmtInt(t.total)),
        h('td', { class: 'n' }, fmtInt(t.available)),
        h('td', { class: 'n' }, fmtInt(t.held)),
        h('td', { class: 'n' }, fmtInt(t.occupied)),
        h('td', { class: 'n' }, fmtInt(t.blocked)),
        h('td', {}, meter(t.occupancy)),
        h('td', { class: 'n' }, t.surge.total ? t.surge.open + '/' + t.surge.total : '-'),
        h('td', { class: 'n' }, fmtAge(f.data_age_hours))));
      for (const z of f.zones) {
        const zt = z.totals;
        rows.push(h('tr', { class: 'zone' },
          h('th', { scope: 'row' }, z.name + (z.closed ? ' (closed)' : '')),
          h('td', {}, Object.entries(z.cohorts).filter(([, c]) => c !== 'open')
            .map(([p, c]) => p + ' ' + c).join(', ')),
          h('td', { class: 'n' }, fmtInt(zt.total)),
          h('td', { class: 'n' }, fmtInt(zt.available)),
          h('td', { class: 'n' }, fmtInt(zt.held)),
          h('td', { class: 'n' }, fmtInt(zt.occupied)),
          h('td', { class: 'n' }, fmtInt(zt.blocked)),
          h('td', {}, meter(zt.occupancy)),
          h('td', { class: 'n' }, zt.surge.total ? zt.surge.open + '/' + zt.surge.total : '-'),
          h('td', {}, '')));
      }
    }
    const tbody = $('capacity-table').tBodies[0];
    fill(tbody, rows);
    setMeterWidths(tbody);
  }

  function renderCohorts(cap) {
    const by = (cap.metrics && cap.metrics.available_by_cohort) || {};
    fill($('cohort-table').tBodies[0], Object.keys(by).sort().map((p) =>
      h('tr', {},
        h('th', { scope: 'row' }, p),
        h('td', { class: 'n' }, fmtInt(by[p].open)),
        h('td', { class: 'n' }, fmtInt(by[p].positive)),
        h('td', { class: 'n' }, fmtInt(by[p].negative)))));
  }

  function renderEscalation(esc) {
    const lvl = esc.level;
    for (const el of [$('esc-level'), $('escalation-badge')]) {
      el.className = 'badge level-' + lvl;
      el.textContent = 'OPEL ' + lvl;
    }
    $('esc-since').textContent = esc.since ? 'since ' + fmtTime(esc.since, true) + ' UTC' : 'no change recorded';
    $('esc-reason').textContent = esc.reason || '';
    const items = (esc.history || []).slice(0, 6).map((c) => {
      const acts = (c.actions || []).map((a) => {
        const x = a && a.action !== undefined ? a.action : a;
        return typeof x === 'string' ? x : JSON.stringify(x);
      });
      return h('li', {},
        h('span', { class: 'badge level-' + c.level }, 'OPEL ' + c.level), ' ',
        h('span', { class: 'muted' }, fmtTime(c.at, true)), ' ',
        c.reason,
        acts.length ? h('div', { class: 'muted' }, 'Actions: ' + acts.join('; ')) : null);
    });
    $('esc-history').replaceChildren(...(items.length ? items : [h('li', { class: 'muted' }, 'No changes yet.')]));
  }

  const BUCKETS = ['<1d', '1-3d', '3-7d', '7-14d', '14d+'];

  function renderWaiting(cap) {
    const w = (cap.metrics && cap.metrics.waiting) || { by_pathway: {} };
    const rows = Object.keys(w.by_pathway).sort().map((p) => {
      const e = w.by_pathway[p];
      return h('tr', { 'data-pathway': p },
        h('th', { scope: 'row' }, p === 'none' ? 'not decided' : p),
        ...BUCKETS.map((b) => h('td', { class: 'n' }, fmtInt(e[b]))),
        h('td', { class: 'n' }, fmtInt(e.total)),
        h('td', { class: 'n' }, Number(e.oldest_days).toFixed(1)));
    });
    if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'Nobody is waiting.')));
    fill($('waiting-table').tBodies[0], rows);
  }

  // Horizontal bars of bed-days lost, largest first. Each name is written
  // in full on its own line above its bar: a cut name hides who is
  // responsible.
  function barChart(box, groups, label) {
    const data = groups.filter((g) => g.bed_days_lost > 0);
    // One SVG unit per CSS pixel, so labels keep their size.
    const W = Math.max(300, box.clientWidth || 520), row = 46, right = 56;
    const H = Math.max(1, data.length) * row + 6;
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true', focusable: 'false' });
    if (!data.length) {
      svg.append(s('text', { x: 0, y: 22, class: 'empty' }, 'No delays recorded.'));
    }
    const max = Math.max(1, ...data.map((g) => g.bed_days_lost));
    data.forEach((g, i) => {
      const y = 2 + i * row;
      const title = s('title', {}, `${g.name}: ${g.bed_days_lost} bed-days lost`);
      const w = Math.max(2, (W - right) * g.bed_days_lost / max);
      svg.append(s('text', { x: 0, y: y + 15 }, g.name));
      const bar = s('rect', { x: 0, y: y + 21, width: w, height: 18, class: 'bar', rx: 3 });
      bar.append(title);
      svg.append(bar);
      svg.append(s('text', { x: w + 6, y: y + 35 }, String(g.bed_days_lost)));
    });
    box.setAttribute('aria-label', label + ': ' + (data.length
      ? data.map((g) => `${g.name} ${g.bed_days_lost}`).join(', ') : 'none'));
    box.replaceChildren(svg);
  }

  function delayRows(groups) {
    return groups.map((g) => h('tr', { 'data-key': g.key },
      h('th', { scope: 'row' }, g.name),
      h('td', { class: 'n' }, fmtInt(g.referrals)),
      h('td', { class: 'n' }, fmtInt(g.delayed)),
      h('td', { class: 'n' }, fmtInt(g.bed_days_lost)),
      h('td', { class: 'n' }, pct(g.share_on_ready_date))));
  }

  function renderDelays(byOrg, byReason) {
    barChart($('delay-org-chart'), byOrg.groups, 'Bed-days lost by organisation');
    barChart($('delay-reason-chart'), byReason.groups, 'Bed-days lost by reason');
    fill($('delay-org-table').tBodies[0], delayRows(byOrg.groups));
    fill($('delay-reason-table').tBodies[0], delayRows(byReason.groups));
  }

  // Occupancy (occupied / open) and held beds over time, in per cent.
  function renderHistory(rep) {
    const hist = rep.history;
    const n = hist.at.length;
    const share = (k, key) => (hist.area.open[k] > 0 ? hist.area[key][k] / hist.area.open[k] : 0);
    const box = $('occ-chart');
    const W = Math.max(320, box.clientWidth || 760), H = 240, L = 44, R = 12, T = 10, B = 30;
    const x = (k) => L + (n > 1 ? (W - L - R) * k / (n - 1) : (W - L - R) / 2);
    const y = (v) => T + (H - T - B) * (1 - v);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true', focusable: 'false' });
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      svg.append(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: v ? 'gridline' : 'axis' }));
      svg.append(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, (v * 100) + '%'));
    }
    const ticks = n > 2 ? [0, Math.floor((n - 1) / 2), n - 1] : [...Array(n).keys()];
    for (const k of ticks) {
      svg.append(s('text', { x: x(k), y: H - 8, 'text-anchor': k === 0 && n > 1 ? 'start' : k === n - 1 && n > 1 ? 'end' : 'middle' },
        fmtTime(hist.at[k], true)));
    }
    for (const [key, cls] of [['held', 'line-held'], ['occupied', 'line-occ']]) {
      const pts = [];
      for (let k = 0; k < n; k++) pts.push(`${x(k).toFixed(1)},${y(share(k, key)).toFixed(1)}`);
      if (n === 1) {
        svg.append(s('circle', { cx: x(0), cy: y(share(0, key)), r: 4, class: cls }));
      } else {
        svg.append(s('polyline', { points: pts.join(' '), class: cls }));
      }
    }
    const last = n - 1;
    box.setAttribute('aria-label', `Occupancy over time: ${pct(share(last, 'occupied'))} now, ` +
      `${n} points from ${fmtTime(hist.at[0], true)} to ${fmtTime(hist.at[last], true)} UTC`);
    const legend = h('div', { class: 'legend' },
      h('span', {}, h('span', { class: 'key k-occ' }), 'occupied / open beds'),
      h('span', {}, h('span', { class: 'key k-held' }), 'held / open beds'));
    box.replaceChildren(svg, legend);
    const rows = [];
    for (let k = last; k >= 0 && rows.length < 48; k--) {
      rows.push(h('tr', {},
        h('th', { scope: 'row' }, fmtTime(hist.at[k], true)),
        h('td', { class: 'n' }, fmtInt(hist.area.open[k])),
        h('td', { class: 'n' }, fmtInt(hist.area.occupied[k])),
        h('td', { class: 'n' }, fmtInt(hist.area.held[k])),
        h('td', { class: 'n' }, pct(share(k, 'occupied')))));
    }
    fill($('occ-table').tBodies[0], rows);
  }

  function renderDecisions(rep) {
    const items = rep.decisions.map((d) => {
      const dec = d.decision || {};
      const where = dec.bed ? `bed ${dec.bed} at ${dec.facility}` : '';
      const trace = h('details', {},
        h('summary', {}, 'Trace (' + plural(dec.trace ? dec.trace.length : 0, 'plugin step') + ')'),
        h('pre', { class: 'trace' }, JSON.stringify({ trace: dec.trace, plugins: dec.plugins }, null, 2)));
      return h('li', { 'data-referral': d.referral },
        h('div', { class: 'head' },
          h('span', { class: 'outcome' }, 'Referral ' + d.referral + ': ' + String(dec.outcome || '-').replace('_', ' ')),
          h('span', {}, 'pathway ' + (dec.pathway || d.pathway || '-')),
          where ? h('span', {}, where) : null,
          h('span', { class: 'muted' }, 'from ' + d.from_org + ', ready ' + d.ready_date + ', now ' + d.state)),
        h('div', { class: 'muted' }, (dec.reasons || []).join('; ')),
        trace);
    });
    $('decisions').replaceChildren(...(items.length ? items : [h('li', { class: 'muted' }, 'No decisions yet.')]));
  }

  // ---- the loop -----------------------------------------------------------

  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const [cap, rep, esc, byOrg, byReason, dec] = await Promise.all([
        api('/v1/capacity'),
        api('/v1/reports/capacity'),
        api('/v1/escalation?limit=10'),
        api('/v1/reports/delays?by=org'),
        api('/v1/reports/delays?by=reason'),
        api('/v1/reports/decisions?limit=8'),
      ]);
      showBoard();
      $('area-name').textContent = cap.area_name || cap.area || 'caretide';
      document.title = cap.area_name || cap.area || 'caretide';
      renderTiles(cap);
      renderCapacity(rep);
      renderCohorts(cap);
      renderEscalation(esc);
      renderWaiting(cap);
      renderDelays(byOrg, byReason);
      renderHistory(rep);
      renderDecisions(dec);
      lastGood = Date.now();
      checkStale();
      $('updated').textContent = 'Updated ' + fmtTime(lastGood) + ' UTC';
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    } catch (e) {
      if (e instanceof AuthError) {
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin(e.message);
        busy = false;
        return;
      }
      $('updated').textContent = 'Update failed (' + e.message + '); retrying';
    }
    busy = false;
    timer = setTimeout(refresh, INTERVAL);
  }

  function start() {
    if (timer) clearTimeout(timer);
    timer = null;
    refresh();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('token').value.trim();
      if (!t) return;
      sessionStorage.setItem(TOKEN_KEY, t);
      $('token').value = '';
      start();
    });
    $('sign-out').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin('');
    });
    setInterval(checkStale, 1000);
    if (token()) start(); else showLogin('');
  });
})();

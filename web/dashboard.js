// caretide dashboard: reads the daemon's JSON API and redraws every few
// seconds. The token is a signed-in person's (kept in sessionStorage for
// the tab) or a display link's (#display=SECRET in the address, for a
// screen on a wall: never stored, never sent anywhere but this daemon).
// Charts are drawn with Chart.js, served by the daemon itself
// (/vendor/chart.js); data is always written with textContent, never
// parsed as HTML.
'use strict';

(function () {
  const TOKEN_KEY = 'caretide.token';
  const params = new URLSearchParams(location.search);
  const INTERVAL = Math.max(1000, Number(params.get('interval')) || 5000);
  // Data older than this (?stale=SECONDS, default 2 minutes) is flagged in
  // red across the screen: a wall must never look current when it is not.
  const STALE_MS = Math.max(2, Number(params.get('stale')) || 120) * 1000;
  const DISPLAY = new URLSearchParams(location.hash.slice(1)).get('display');
  let lastGood = 0; // Date.now() of the last complete refresh, 0 before any
  let timer = null;
  let busy = false;
  const charts = {};
  let people = [];
  let peopleSort = { key: 'days_past_ready', dir: -1 };

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

  // "+3 on yesterday" style change, coloured: more people delayed is worse.
  function change(now, then, label) {
    const d = now - then;
    const span = h('span', { class: d > 0 ? 'up' : d < 0 ? 'down' : null },
      d > 0 ? '▲ ' + d : d < 0 ? '▼ ' + (-d) : 'same');
    return h('span', {}, label + ' ' + fmtInt(then) + ' (', span, ')');
  }

  // ---- token and API ------------------------------------------------------

  const token = () => DISPLAY || sessionStorage.getItem(TOKEN_KEY);

  class AuthError extends Error {}
  class Forbidden extends Error {}

  async function api(path, type) {
    const res = await fetch(path, {
      headers: { Authorization: 'Bearer ' + token(), Accept: type || 'application/json' },
      cache: 'no-store',
    });
    if (res.status === 401) {
      throw new AuthError(DISPLAY ? 'This display link is not valid (revoked or mistyped). Ask the hub for a new one.'
        : 'That token was not accepted.');
    }
    if (res.status === 403) throw new Forbidden(path);
    if (type) {
      if (!res.ok) throw new Error(res.statusText);
      return res.blob();
    }
    const body = await res.json();
    if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
    return body;
  }

  // A report this token may not read (403) leaves its section hidden.
  const optional = (p) => p.catch((e) => { if (e instanceof Forbidden) return null; throw e; });

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
    if (DISPLAY) {
      // A wall has nobody to type a token: say what is wrong, in large.
      const box = $('stale');
      box.replaceChildren(message, h('small', {}, 'Nothing is shown until a valid display link is used.'));
      box.hidden = false;
      return;
    }
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('token').focus();
  }

  function showBoard() {
    $('login').hidden = true;
    $('board').hidden = false;
    $('sign-out').hidden = !!DISPLAY;
  }

  // ---- the first screen ---------------------------------------------------

  function renderToday(today, cap) {
    const t = today.totals;
    $('t-delayed').textContent = fmtInt(t.now);
    $('t-delayed-compare').replaceChildren(change(t.now, t.yesterday, 'yesterday'), ' · ',
      change(t.now, t.last_week, 'last week'));
    $('t-long').textContent = fmtInt(t.by_length['14d+']);
    $('t-max').textContent = fmtInt(t.max_days);
    $('t-bed-days').textContent = fmtInt(t.bed_days);
    const beds = (cap.metrics && cap.metrics.beds) || {};
    $('t-occupancy').textContent = pct(beds.occupancy);
    $('t-available').textContent = fmtInt(cap.totals.available) + ' beds available now';

    // The reasons go under the organisation's name: why, beside who.
    const orgs = today.orgs.map((g) => h('tr', { 'data-key': g.key },
      h('th', { scope: 'row' }, g.name,
        g.reasons.length ? h('span', { class: 'why' }, g.reasons.map((r) => r.name + ' (' + r.now + ')').join('; ')) : null),
      h('td', { class: 'n' }, fmtInt(g.now)),
      h('td', { class: 'n' }, fmtInt(g.yesterday)),
      h('td', { class: 'n' }, fmtInt(g.last_week)),
      h('td', { class: 'n' }, fmtInt(g.by_length['14d+'])),
      h('td', { class: 'n' }, g.now ? fmtInt(g.max_days) : '-')));
    if (!orgs.length) orgs.push(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'Nobody is past their discharge ready date.')));
    fill($('org-table').tBodies[0], orgs);

    const reasons = today.reasons.map((g) => h('tr', { 'data-key': g.key },
      h('th', { scope: 'row' }, g.name),
      h('td', { class: 'n' }, fmtInt(g.now)),
      h('td', { class: 'n' }, fmtInt(g.yesterday)),
      h('td', { class: 'n' }, fmtInt(g.last_week))));
    if (!reasons.length) reasons.push(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No delays.')));
    fill($('reason-table').tBodies[0], reasons);

    const lengths = [['1-2d', '1-2'], ['3-6d', '3-6'], ['7-13d', '7-13'], ['14d+', '14 or more']];
    const tbody = $('length-table').tBodies[0];
    fill(tbody, lengths.map(([k, label]) => h('tr', {},
      h('th', { scope: 'row' }, label),
      h('td', { class: 'n' }, fmtInt(t.by_length[k])),
      h('td', {}, meter(t.now ? t.by_length[k] / t.now : 0, true)))));
    setMeterWidths(tbody);
  }

  function renderStaleProviders(rep) {
    const names = rep.stale_providers || [];
    const box = $('stale-providers');
    box.hidden = !names.length;
    box.textContent = names.length
      ? 'Not updated in the last ' + fmtAge(rep.stale_after_hours) + ': ' + names.join(', ')
      : '';
    $('prov-note').textContent = 'A provider is named on the wall when none of its beds has changed for ' +
      fmtAge(rep.stale_after_hours) + ' (area.stale_after).';
    fill($('prov-table').tBodies[0], (rep.providers || []).map((p) => h('tr', { class: p.stale ? 'stale-row' : null, 'data-org': p.org },
      h('th', { scope: 'row' }, p.name),
      h('td', {}, p.facilities.map((id) => {
        const f = rep.facilities.find((x) => x.id === id);
        return f ? f.name : id;
      }).join(', ')),
      h('td', { class: 'n' }, fmtTime(p.last_change, true)),
      h('td', { class: 'n' }, fmtAge(p.data_age_hours)),
      h('td', { class: 'status' }, p.stale ? 'not updating' : 'up to date'))));
  }

  function renderEscalation(esc) {
    const lvl = esc.level;
    $('esc-level').className = 'badge level-' + lvl;
    $('esc-level').textContent = 'OPEL ' + lvl;
    $('escalation-badge').className = 'badge level-' + lvl;
    $('badge-level').textContent = 'OPEL ' + lvl;
    $('badge-reason').textContent = esc.reason ? '· ' + esc.reason : '';
    $('esc-since').textContent = esc.since ? 'since ' + fmtTime(esc.since, true) + ' UTC' : 'no change recorded';
    $('esc-reason').textContent = esc.reason || '';
    const items = (esc.history || []).slice(0, 5).map((c) => {
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

  // ---- charts (Chart.js) --------------------------------------------------

  // Okabe-Ito: told apart with the common colour-vision deficiencies.
  const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#8a5a00'];
  const NONE = '#6b7785';

  function chartDefaults() {
    const css = getComputedStyle(document.documentElement);
    Chart.defaults.font.size = Math.round(parseFloat(css.fontSize) * 0.8);
    Chart.defaults.font.family = css.fontFamily;
    Chart.defaults.color = '#1c2430';
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
  }

  // Creates the chart once, then only swaps its data: a wall refreshes
  // all winter without rebuilding canvases.
  function chart(id, config) {
    const old = charts[id];
    if (old && old.config.type === config.type) {
      old.data.labels = config.data.labels;
      old.data.datasets = config.data.datasets;
      old.update('none');
      return old;
    }
    if (old) old.destroy();
    charts[id] = new Chart($(id), config);
    return charts[id];
  }

  const shortDay = (d) => d.slice(8, 10) + '/' + d.slice(5, 7);

  // A table under a chart: the same figures for screen readers and copying.
  function seriesTable(id, days, columns) {
    const table = $(id);
    table.tHead.replaceChildren(h('tr', {}, h('th', { scope: 'col' }, 'Day'),
      ...columns.map((c) => h('th', { scope: 'col', class: 'n' }, c.label))));
    const rows = [];
    for (let k = days.length - 1; k >= 0; k--) {
      rows.push(h('tr', {}, h('th', { scope: 'row' }, days[k]),
        ...columns.map((c) => h('td', { class: 'n' }, c.fmt ? c.fmt(c.values[k]) : fmtInt(c.values[k])))));
    }
    fill(table.tBodies[0], rows);
  }

  function renderDaily(daily) {
    const days = daily.days;
    const labels = days.map(shortDay);
    // People past their ready date: stacked by organisation, largest
    // organisations first, "none" grey.
    const orgs = Object.entries(daily.delayed.by_org)
      .map(([key, s]) => ({ key, name: s.name, values: s.values, sum: s.values.reduce((a, b) => a + b, 0) }))
      .filter((o) => o.sum > 0)
      .sort((a, b) => b.sum - a.sum);
    const datasets = orgs.map((o, i) => ({
      label: o.name, data: o.values, stack: 'delayed',
      backgroundColor: o.key === 'none' ? NONE : PALETTE[i % PALETTE.length],
    }));
    chart('chart-delayed', {
      type: 'bar',
      data: { labels, datasets },
      options: {
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'people' } } },
        // Below the chart: a legend at the side cuts long names.
        plugins: { legend: { position: 'bottom' } },
      },
    });
    $('chart-delayed').setAttribute('aria-label', 'People past their ready date by day: ' +
      days.length + ' days, ' + fmtInt(daily.delayed.total[days.length - 1]) + ' today');
    seriesTable('delayed-table', days, [{ label: 'All', values: daily.delayed.total },
      ...orgs.map((o) => ({ label: o.name, values: o.values }))]);

    chart('chart-lost', {
      type: 'bar',
      data: { labels, datasets: [{ label: 'bed-days lost', data: daily.bed_days_lost.total, backgroundColor: '#B00020' }] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { display: false } } },
    });
    seriesTable('lost-table', days, [{ label: 'Bed-days lost', values: daily.bed_days_lost.total }]);

    const occ = daily.occupancy.share.map((x) => (x === null ? null : Math.round(1000 * x) / 10));
    chart('chart-occ-level', {
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: 'occupancy %', data: occ, borderColor: '#005eb8', backgroundColor: '#005eb8', yAxisID: 'y', pointRadius: 2 },
          { label: 'OPEL level (highest of the day)', data: daily.escalation.max_level, borderColor: '#b04300', backgroundColor: '#b04300', stepped: true, yAxisID: 'level', borderDash: [6, 4], pointRadius: 0 },
        ],
      },
      options: {
        scales: {
          y: { min: 0, max: 100, title: { display: true, text: '%' } },
          level: { position: 'right', min: 0, max: 4, ticks: { stepSize: 1 }, grid: { drawOnChartArea: false }, title: { display: true, text: 'OPEL' } },
        },
      },
    });
    seriesTable('occday-table', days, [
      { label: 'Occupancy', values: daily.occupancy.share, fmt: pct },
      { label: 'Level at end', values: daily.escalation.level },
      { label: 'Highest level', values: daily.escalation.max_level }]);

    const hours = daily.holds.confirm_hours_median.map((x) => (x === null ? null : Math.round(10 * x) / 10));
    chart('chart-holds', {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'confirmed', data: daily.holds.confirmed, backgroundColor: '#009E73', stack: 'h', yAxisID: 'y' },
          { label: 'expired', data: daily.holds.expired, backgroundColor: '#B00020', stack: 'h', yAxisID: 'y' },
          { type: 'line', label: 'median hours to confirm', data: hours, borderColor: '#000000', backgroundColor: '#000000', yAxisID: 'hours', spanGaps: true },
        ],
      },
      options: {
        scales: {
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'holds' } },
          hours: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'hours' } },
        },
      },
    });
    const provCols = [];
    for (const [, p] of Object.entries(daily.holds.by_provider)) {
      provCols.push({ label: p.name + ': confirmed', values: p.confirmed },
        { label: p.name + ': expired', values: p.expired },
        { label: p.name + ': median hours', values: p.confirm_hours_median, fmt: (x) => (x === null ? '-' : x.toFixed(1)) });
    }
    seriesTable('holds-table', days, [
      { label: 'Confirmed', values: daily.holds.confirmed },
      { label: 'Expired', values: daily.holds.expired },
      { label: 'Median hours to confirm', values: daily.holds.confirm_hours_median, fmt: (x) => (x === null ? '-' : x.toFixed(1)) },
      ...provCols]);
  }

  // Provider response times (the providers report): per organisation,
  // hours from hold to confirmation (median and 90th percentile) and the
  // holds that expired without an answer.
  function renderResponses(rep) {
    const ps = rep.providers;
    const hours = (x) => (x === null || x === undefined ? null : Math.round(10 * x) / 10);
    chart('chart-response', {
      type: 'bar',
      data: {
        labels: ps.map((p) => p.name),
        datasets: [
          { label: 'median hours to confirm', data: ps.map((p) => hours(p.confirm_hours_median)), backgroundColor: '#0072B2', xAxisID: 'x' },
          { label: '90th percentile hours', data: ps.map((p) => hours(p.confirm_hours_p90)), backgroundColor: '#56B4E9', xAxisID: 'x' },
          { label: 'holds expired (no answer)', data: ps.map((p) => p.expired), backgroundColor: '#B00020', xAxisID: 'count' },
        ],
      },
      options: {
        indexAxis: 'y',
        scales: {
          x: { beginAtZero: true, position: 'bottom', title: { display: true, text: 'hours' } },
          count: { beginAtZero: true, position: 'top', ticks: { precision: 0 }, grid: { drawOnChartArea: false }, title: { display: true, text: 'holds expired' } },
        },
        plugins: { legend: { position: 'bottom' } },
      },
    });
    const one = (x) => (x === null || x === undefined ? '-' : x.toFixed(1));
    const table = $('response-table');
    table.tHead.replaceChildren(h('tr', {}, ...['Provider', 'Holds', 'Confirmed', 'Declined', 'Expired', 'Expired %',
      'Median hours', '90th pct hours'].map((t, i) => h('th', { scope: 'col', class: i ? 'n' : '' }, t))));
    fill(table.tBodies[0], [...ps, rep.totals].map((p) => h('tr', {},
      h('th', { scope: 'row' }, p.name), ...[fmtInt(p.holds), fmtInt(p.confirmed), fmtInt(p.declined), fmtInt(p.expired),
        pct(p.expired_share), one(p.confirm_hours_median), one(p.confirm_hours_p90)].map((t) => h('td', { class: 'n' }, t)))));
  }

  function renderHistory(rep) {
    const hist = rep.history;
    const n = hist.at.length;
    const share = (k, key) => (hist.area.open[k] > 0 ? hist.area[key][k] / hist.area.open[k] : 0);
    const labels = hist.at.map((t) => fmtTime(t, true).slice(5));
    chart('chart-occ', {
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: 'occupied / open beds %', data: hist.at.map((_, k) => Math.round(1000 * share(k, 'occupied')) / 10), borderColor: '#005eb8', backgroundColor: '#005eb8', pointRadius: 0 },
          { label: 'held / open beds %', data: hist.at.map((_, k) => Math.round(1000 * share(k, 'held')) / 10), borderColor: '#8a5a00', backgroundColor: '#8a5a00', borderDash: [5, 4], pointRadius: 0 },
        ],
      },
      options: { scales: { y: { min: 0, max: 100 }, x: { ticks: { maxTicksLimit: 8 } } } },
    });
    const rows = [];
    for (let k = n - 1; k >= 0 && rows.length < 48; k--) {
      rows.push(h('tr', {},
        h('th', { scope: 'row' }, fmtTime(hist.at[k], true)),
        h('td', { class: 'n' }, fmtInt(hist.area.open[k])),
        h('td', { class: 'n' }, fmtInt(hist.area.occupied[k])),
        h('td', { class: 'n' }, fmtInt(hist.area.held[k])),
        h('td', { class: 'n' }, pct(share(k, 'occupied')))));
    }
    fill($('occ-table').tBodies[0], rows);
  }

  // ---- the rest -----------------------------------------------------------

  function meter(share, plain) {
    const p = Math.max(0, Math.min(1, share || 0));
    return h('span', { class: 'meter' },
      h('span', { class: 'bar', 'aria-hidden': 'true' },
        h('span', { class: 'fill' + (!plain && p >= 0.95 ? ' high' : '') })),
      plain ? null : pct(share), plain ? h('span', { class: 'vh' }, pct(share)) : null);
  }

  function setMeterWidths(root) {
    // Widths through the CSSOM (CSP forbids inline style attributes).
    root.querySelectorAll('.meter').forEach((m) => {
      const v = parseFloat(m.lastChild.textContent);
      m.querySelector('.fill').style.width = (isNaN(v) ? 0 : Math.min(100, v)) + '%';
    });
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
        rows.push(h('tr', { class: 'zone', 'data-zone': z.id },
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
          h('td', { class: 'n' }, fmtAge(z.data_age_hours))));
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

  // Days past the discharge ready date (metrics.waiting buckets).
  const BUCKETS = ['<1d', '1-3d', '3-7d', '7-14d', '14d+'];

  function renderWaiting(cap) {
    const w = (cap.metrics && cap.metrics.waiting) || { by_pathway: {} };
    const rows = Object.keys(w.by_pathway).sort().map((p) => {
      const e = w.by_pathway[p];
      return h('tr', { 'data-pathway': p },
        h('th', { scope: 'row' }, p === 'none' ? 'not decided' : p),
        ...BUCKETS.map((b) => h('td', { class: 'n' }, fmtInt(e[b]))),
        h('td', { class: 'n' }, fmtInt(e.total)),
        h('td', { class: 'n' }, fmtInt(Math.round(e.oldest_days))));
    });
    if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'Nobody is waiting.')));
    fill($('waiting-table').tBodies[0], rows);
  }

  function renderPeople(rep) {
    $('people-card').hidden = !rep;
    if (!rep) return;
    people = rep.people;
    drawPeople();
  }

  function drawPeople() {
    const { key, dir } = peopleSort;
    const sorted = people.slice().sort((a, b) => {
      const x = a[key] === null ? '' : a[key], y = b[key] === null ? '' : b[key];
      return (x < y ? -1 : x > y ? 1 : a.referral - b.referral) * dir;
    });
    for (const th of $('people-table').tHead.rows[0].cells) {
      const k = th.querySelector('button').dataset.sort;
      th.setAttribute('aria-sort', k === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    const rows = sorted.map((p) => h('tr', { 'data-referral': p.referral },
      h('th', { scope: 'row' }, String(p.referral)),
      h('td', {}, p.nhs_number.replace(/^(\d{3})(\d{3})(\d{4})$/, '$1 $2 $3')),
      h('td', { class: 'n' }, fmtInt(p.days_past_ready)),
      h('td', {}, p.reason_text),
      h('td', {}, p.responsible_org_name),
      h('td', {}, p.pathway || '-'),
      h('td', {}, fmtTime(p.updated_at, true))));
    if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'Nobody is past their discharge ready date.')));
    fill($('people-table').tBodies[0], rows);
  }

  async function exportPeople() {
    const blob = await api('/v1/reports/delayed-people?format=csv', 'text/csv');
    const a = h('a', { href: URL.createObjectURL(blob), download: 'delayed-people-' + new Date().toISOString().slice(0, 10) + '.csv' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // Why a referral waits (docs/api.md "Why a referral waits"), one item
  // per part: each host rule with the beds it keeps from the person, the
  // plugins' drops and refusals, and what would place them.
  const RULES = [['pathway', 'not a place for this pathway'], ['cohort', 'infection cohort'],
    ['closed', 'zone closed'], ['surge_closed', 'surge beds not open'], ['held', 'held for others'],
    ['occupied', 'occupied'], ['blocked', 'blocked'], ['available', 'free, but not offered']];

  function whyList(why) {
    const items = [];
    const ex = why.excluded || {};
    for (const [tag, n] of Object.entries(ex.tags || {})) {
      if (n) items.push(h('li', { 'data-rule': 'tags', 'data-tag': tag, 'data-count': String(n) }, `${fmtInt(n)} without ${tag}`));
    }
    for (const [rule, words] of RULES) {
      if (ex[rule]) items.push(h('li', { 'data-rule': rule, 'data-count': String(ex[rule]) }, `${fmtInt(ex[rule])} ${words}`));
    }
    for (const d of why.dropped || []) {
      items.push(h('li', { 'data-rule': 'dropped' }, `${d.plugin} left out ${d.bed}: ${d.reason}`));
    }
    for (const r of why.refused || []) {
      items.push(h('li', { 'data-rule': 'refused' }, `${r.bed} refused: ${r.reason}`));
    }
    for (const w of why.would_place || []) {
      const text = w.event === 'hold_expires' ? `${w.bed} may free at ${fmtTime(w.at, true)} (a hold expires)`
        : w.event === 'surge_opens' ? `${fmtInt(w.beds)} surge bed(s) at ${w.facility} if surge opens`
          : w.event === 'isolation_ends' ? `isolation ends ${fmtTime(w.at, true)}` : w.event;
      items.push(h('li', { 'data-rule': 'would_place', class: 'would' }, text));
    }
    return h('ul', { class: 'waitwhy' }, ...items);
  }

  function renderWaitlist(list) {
    $('waitlist-card').hidden = !list;
    if (!list) return;
    const rows = list.waiting.map((e) => h('tr', { 'data-referral': e.id },
      h('td', { class: 'n' }, String(e.position)),
      h('th', { scope: 'row' }, String(e.id)),
      h('td', {}, e.pathway || '-'),
      h('td', { class: 'n' }, fmtInt(e.priority)),
      h('td', { class: 'n' }, fmtInt(e.days_past_ready)),
      h('td', {}, String(e.outcome || 'not decided').replace('_', ' ') + (e.deferred ? ' (queued)' : '')),
      h('td', {}, e.why ? whyList(e.why) : h('span', { class: 'muted' }, 'for the hub and the referring hospital'))));
    if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'Nobody is waiting.')));
    fill($('waitlist-table').tBodies[0], rows);
  }

  function renderDecisions(rep) {
    $('decisions-card').hidden = !rep;
    if (!rep) return;
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
      const [cap, rep, esc, today, daily, dec, ppl, resp, wl] = await Promise.all([
        api('/v1/capacity'),
        api('/v1/reports/capacity'),
        api('/v1/escalation?limit=10'),
        api('/v1/reports/today'),
        api('/v1/reports/daily'),
        DISPLAY ? null : optional(api('/v1/reports/decisions?limit=8')),
        DISPLAY ? null : optional(api('/v1/reports/delayed-people')),
        api('/v1/reports/providers'),
        DISPLAY ? null : optional(api('/v1/waiting-list?limit=50')),
      ]);
      showBoard();
      const name = cap.area_name || cap.area || 'caretide';
      $('area-name').textContent = name;
      document.title = name;
      renderToday(today, cap);
      renderStaleProviders(rep);
      renderEscalation(esc);
      renderDaily(daily);
      renderResponses(resp);
      renderCapacity(rep);
      renderHistory(rep);
      renderCohorts(cap);
      renderWaiting(cap);
      renderPeople(ppl);
      renderWaitlist(wl);
      renderDecisions(dec);
      lastGood = Date.now();
      checkStale();
      $('updated').textContent = 'Updated ' + fmtTime(lastGood) + ' UTC';
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    } catch (e) {
      if (e instanceof AuthError) {
        if (!DISPLAY) sessionStorage.removeItem(TOKEN_KEY);
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
    chartDefaults();
    if (DISPLAY) {
      // Wall mode: the first screen, full width, nothing to sign in to.
      document.body.classList.add('wall');
      for (const id of ['people-card', 'prov-title', 'cap-title', 'occ-title', 'cohort-title', 'decisions-card',
        'lost-title', 'occday-title', 'holds-title', 'response-title']) {
        const el = $(id);
        (el.closest('section') || el).classList.add('wall-hide');
      }
      // How long, beside the trend.
      $('trend-title').closest('section').after($('length-card'));
    }
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
    $('people-table').tHead.addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-sort]');
      if (!b) return;
      const key = b.dataset.sort;
      peopleSort = { key, dir: peopleSort.key === key ? -peopleSort.dir : (key === 'days_past_ready' ? -1 : 1) };
      drawPeople();
    });
    $('people-export').addEventListener('click', () => {
      exportPeople().catch((e) => { $('updated').textContent = 'Download failed (' + e.message + ')'; });
    });
    setInterval(checkStale, 1000);
    if (token()) start(); else showLogin('');
  });
})();

// powerjockey's live rack page: polls /api/v1/nodes and updates the DOM in
// place (one card per node, touched only where something changed), shows
// the PDUs' outlets, and a node's last hour (power draw chart, event
// timeline) on demand. Logs in when the server asks for credentials. No
// framework, no build step; served under a CSP that forbids inline code.
'use strict';
(() => {
  const POLL_MS = 2000, MAX_RETRY_MS = 10000, TIMEOUT_MS = 10000;
  // The API refuses POSTs without this header (CSRF protection).
  const POST_HEADERS = {'Content-Type': 'application/json', 'X-Requested-By': 'powerjockey'};
  const $ = (id) => document.getElementById(id);
  const grid = $('nodes'), manualList = $('manual-list'), conn = $('conn');
  const q = $('q'), stateSel = $('state');

  const cards = new Map();    // name -> {el, f: {field elements}, n: last node JSON}
  const waiting = new Map();  // name -> manual banner <li>
  let failures = 0, timer = 0, polling = false, firstRender = true, loggedOut = false;
  // A 401 means the server wants credentials: show the login form.
  class LoginRequired extends Error {}

  const setText = (el, s) => { if (el.textContent !== s) el.textContent = s; };
  const setAttr = (el, k, v) => { if (el.getAttribute(k) !== v) el.setAttribute(k, v); };
  const setHidden = (el, h) => { if (el.hidden !== h) el.hidden = h; };

  function fmtTime(iso, seconds) {
    const d = new Date(iso);
    if (!iso || isNaN(d)) return '';
    const opts = {hour: '2-digit', minute: '2-digit'};
    if (seconds) opts.second = '2-digit';
    if (d.toDateString() !== new Date().toDateString()) { opts.month = 'short'; opts.day = 'numeric'; }
    return d.toLocaleString([], opts);
  }
  const upper = (a) => (a === 'soft' ? 'SOFT OFF' : a.toUpperCase());
  const url = (name, what) => `/api/v1/nodes/${encodeURIComponent(name)}/${what}`;

  // Filter keys of a node: its power state plus busy, manual and error.
  function facets(n) {
    const s = new Set([n.power]);
    if (n.busy) s.add('busy');
    if (n.manual_action) s.add('manual');
    if (n.status_error || (n.last_action && n.last_action.result === 'error')) s.add('error');
    return s;
  }
  function matches(n) {
    const text = q.value.trim().toLowerCase(), st = stateSel.value;
    return (!text || n.name.toLowerCase().includes(text)) && (!st || facets(n).has(st));
  }

  function makeCard(name) {
    const el = $('card-tpl').content.firstElementChild.cloneNode(true);
    el.dataset.node = name;
    const f = {};
    for (const k of ['name', 'badge', 'src', 'serr', 'wait', 'last']) f[k] = el.querySelector('.' + k);
    f.name.textContent = name;
    for (const b of el.querySelectorAll('button[data-action]')) b.setAttribute('aria-label', `Power ${b.dataset.action} ${name}`);
    el.querySelector('button[data-history]').setAttribute('aria-label', `History of ${name}`);
    return {el, f, n: null};
  }

  function lastText(a) {
    if (!a) return 'no power action yet';
    const head = `${a.action} via ${a.means}`;
    if (a.result === 'running') return `${head}: running since ${fmtTime(a.at, true)}`;
    const ms = a.duration_ns / 1e6;
    const took = ms ? ` in ${ms < 1000 ? Math.max(1, Math.round(ms)) + ' ms' : (ms / 1000).toFixed(1) + ' s'}` : '';
    const err = a.error ? `: ${a.error}` : '';
    return `last: ${head}, ${a.result}${err} (${fmtTime(a.at, true)}${took})`;
  }

  function updateCard(c, n) {
    const {el, f} = c;
    setAttr(el, 'data-power', n.power);
    setAttr(f.badge, 'data-power', n.power);
    setText(f.badge, n.power.toUpperCase());
    let src = n.source ? `source: ${n.source}` : '';
    if (n.watts != null) src += ` · ${Math.round(n.watts)} W`;
    // The recorded state (the last action's target) matters when the
    // sensors disagree with it: a machine that shut itself down, say.
    if (n.source !== 'recorded' && n.recorded_power !== 'unknown' && n.recorded_power !== n.power) {
      src += ` · recorded ${n.recorded_power}`;
    }
    setText(f.src, src);
    setText(f.serr, n.status_error || '');
    const m = n.manual_action;
    setText(f.wait, m ? `Waiting for a human: power ${upper(m.action)} since ${fmtTime(m.since)}` : '');
    setText(f.last, lastText(n.last_action));
    f.last.classList.toggle('failed', !!n.last_action && n.last_action.result === 'error');
    el.classList.toggle('busy', n.busy);
    el.classList.toggle('waiting', !!m);
    c.n = n;
    setHidden(el, !matches(n));
  }

  // Keeps the children of parent in the order of items, moving only what
  // is out of place.
  function order(parent, els) {
    let at = parent.firstElementChild;
    for (const el of els) {
      if (el === at) at = at.nextElementSibling;
      else parent.insertBefore(el, at);
    }
  }

  function renderManual(list) {
    const now = list.filter((n) => n.manual_action);
    const names = new Set(now.map((n) => n.name));
    for (const [name, li] of waiting) if (!names.has(name)) { li.remove(); waiting.delete(name); }
    for (const n of now) {
      let li = waiting.get(n.name);
      if (!li) {
        li = $('manual-tpl').content.firstElementChild.cloneNode(true);
        li.dataset.node = n.name;
        li.querySelector('.done').setAttribute('aria-label', `Done: ${n.name}`);
        waiting.set(n.name, li);
      }
      setText(li.querySelector('.what'), `power ${n.name} ${upper(n.manual_action.action)}`);
      setText(li.querySelector('.since'), `since ${fmtTime(n.manual_action.since)}`);
    }
    order(manualList, now.map((n) => waiting.get(n.name)));
    $('manual').hidden = now.length === 0;
  }

  function render(list) {
    const names = new Set(list.map((n) => n.name));
    for (const [name, c] of cards) if (!names.has(name)) { c.el.remove(); cards.delete(name); }
    const news = [];
    for (const n of list) {
      let c = cards.get(n.name);
      if (!c) { c = makeCard(n.name); cards.set(n.name, c); }
      const was = c.n;
      if (was && was.power !== n.power) news.push(`${n.name} is now ${n.power}`);
      if (!firstRender && n.manual_action && !(was && was.manual_action)) {
        news.push(`Manual action needed: power ${n.name} ${upper(n.manual_action.action)}`);
      }
      updateCard(c, n);
    }
    order(grid, list.map((n) => cards.get(n.name).el));
    renderManual(list);
    summarize();
    if (news.length) announce(news.length > 4 ? `${news.slice(0, 3).join('. ')}. And ${news.length - 3} more changes.` : news.join('. '));
    firstRender = false;
  }

  function summarize() {
    const count = {on: 0, off: 0, unknown: 0, busy: 0, manual: 0};
    let shown = 0;
    for (const {n, el} of cards.values()) {
      count[n.power] = (count[n.power] || 0) + 1;
      if (n.busy) count.busy++;
      if (n.manual_action) count.manual++;
      if (!el.hidden) shown++;
    }
    setText($('summary'), `${cards.size} nodes: ${count.on} on, ${count.off} off, ${count.unknown} unknown` +
      (count.busy ? `, ${count.busy} acting` : '') + (count.manual ? `, ${count.manual} waiting for a human` : ''));
    setText($('shown'), shown === cards.size ? '' : `showing ${shown} of ${cards.size}`);
    $('empty').hidden = shown > 0 || cards.size === 0;
  }

  function applyFilter() {
    for (const c of cards.values()) setHidden(c.el, !matches(c.n));
    summarize();
  }

  function announce(msg) { setText($('announce'), msg); }
  function showError(msg) { const e = $('error'); e.textContent = msg; e.hidden = !msg; }

  // Only the connection state is a live region; the time of the last
  // update changes every poll and is not announced.
  let lastUpdate = '';
  function setConn(ok, why) {
    document.body.classList.toggle('offline', !ok);
    $('retry').hidden = ok;
    setAttr(conn, 'data-state', ok ? 'live' : 'down');
    if (ok) lastUpdate = new Date().toLocaleTimeString();
    setText($('conn-text'), ok ? 'Live' : `Disconnected from powerjockey (${why}); retrying…`);
    setText($('updated'), !lastUpdate ? '' : ok ? `· updated ${lastUpdate}` : `· data from ${lastUpdate}`);
  }

  async function poll() {
    if (polling) return;
    polling = true;
    clearTimeout(timer);
    try {
      const res = await fetch('/api/v1/nodes', {cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT_MS)});
      if (res.status === 401) throw new LoginRequired();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render(await res.json());
      failures = 0;
      setConn(true);
      pollPDUs();
    } catch (e) {
      if (e instanceof LoginRequired) { polling = false; showLogin(''); return; }
      failures++;
      setConn(false, e.name === 'TimeoutError' ? 'no answer' : e.name === 'TypeError' ? 'unreachable' : e.message);
    } finally {
      polling = false;
    }
    if (!loggedOut) timer = setTimeout(poll, failures ? Math.min(POLL_MS * 2 ** (failures - 1), MAX_RETRY_MS) : POLL_MS);
  }

  async function post(path, body) {
    const res = await fetch(path, {method: 'POST', headers: POST_HEADERS, body: JSON.stringify(body || {}),
      cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT_MS)});
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON */ }
    if (res.status === 401) { showLogin('The session ended: log in again.'); throw new Error('not logged in'); }
    if (!res.ok) throw new Error((data && data.error) || `HTTP ${res.status}`);
    return data;
  }

  // An action's answer is the node's new state: show it at once.
  function showNode(n) {
    const c = cards.get(n.name);
    if (!c) return;
    updateCard(c, n);
    renderManual([...cards.values()].map((x) => x.n));
    summarize();
  }

  async function act(button, what, path, body, done) {
    button.disabled = true;
    try {
      showNode(await post(path, body));
      showError('');
      announce(done);
    } catch (e) {
      showError(`${what} failed: ${e.message}`);
    } finally {
      button.disabled = false;
    }
  }

  grid.addEventListener('click', (ev) => {
    const h = ev.target.closest('button[data-history]');
    if (h) { openHistory(h.closest('li').dataset.node); return; }
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    const name = b.closest('li').dataset.node, a = b.dataset.action;
    const warn = a === 'on' ? '' : a === 'off' ? '\nThis cuts its power at once.' : '\nThis cuts its power, then turns it on again.';
    if (!confirm(`Power ${upper(a)} ${name}?${warn}`)) return;
    act(b, `power ${a} ${name}`, url(name, 'power'), {action: a}, `power ${a} ${name} accepted`);
  });
  manualList.addEventListener('click', (ev) => {
    const b = ev.target.closest('button.done');
    if (!b) return;
    const name = b.closest('li').dataset.node;
    act(b, `acknowledging ${name}`, url(name, 'acknowledge'), null, `${name}: manual action done`);
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  q.addEventListener('input', applyFilter);
  stateSel.addEventListener('change', applyFilter);
  $('retry').addEventListener('click', poll);

  // ---- The PDUs: each one's outlets, the node each feeds, state, watts.
  const pduTables = new Map(); // PDU name -> {table, rows: Map(outlet -> tr)}
  let pduPolls = 0;
  async function pollPDUs() {
    // Every other node poll: outlets change with the nodes' readings.
    if (pduPolls++ % 2) return;
    try {
      const res = await fetch('/api/v1/pdus', {cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT_MS)});
      if (res.ok) renderPDUs(await res.json());
    } catch (_) { /* the node poll reports the connection */ }
  }
  function renderPDUs(list) {
    const names = new Set(list.map((p) => p.name));
    for (const [name, t] of pduTables) if (!names.has(name)) { t.table.remove(); pduTables.delete(name); }
    for (const p of list) {
      let t = pduTables.get(p.name);
      if (!t) {
        const table = $('pdu-tpl').content.firstElementChild.cloneNode(true);
        table.dataset.pdu = p.name;
        t = {table, rows: new Map()};
        pduTables.set(p.name, t);
      }
      setText(t.table.querySelector('caption'), `${p.name}${p.model && p.model !== 'auto' ? ' (' + p.model + ')' : ''}` +
        (p.watts != null ? ` · ${Math.round(p.watts)} W` : ''));
      const body = t.table.tBodies[0], seen = new Set();
      for (const o of p.outlets) {
        const key = `${o.outlet}/${o.node}`;
        seen.add(key);
        let tr = t.rows.get(key);
        if (!tr) {
          tr = document.createElement('tr');
          for (const c of ['outlet', 'node', 'state', 'watts']) { const td = document.createElement('td'); td.className = c; tr.append(td); }
          t.rows.set(key, tr);
        }
        tr.dataset.outlet = o.outlet;
        setAttr(tr, 'data-state', o.state);
        setText(tr.cells[0], String(o.outlet));
        setText(tr.cells[1], o.node);
        setText(tr.cells[2], o.state + (o.error ? ' (no answer)' : ''));
        setText(tr.cells[3], o.watts != null ? `${Math.round(o.watts)} W` : '–');
      }
      for (const [key, tr] of t.rows) if (!seen.has(key)) { tr.remove(); t.rows.delete(key); }
      order(body, p.outlets.map((o) => t.rows.get(`${o.outlet}/${o.node}`)));
    }
    order($('pdu-list'), list.map((p) => pduTables.get(p.name).table));
    $('pdus').hidden = list.length === 0;
  }

  // ---- A node's last hour: the power chart and the event timeline.
  const SVG = 'http://www.w3.org/2000/svg';
  const dialog = $('history');
  let historyNode = '', historyTimer = 0;
  function svgEl(name, attrs, text) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    if (text != null) el.textContent = text;
    return el;
  }
  async function openHistory(name) {
    historyNode = name;
    setText($('history-h'), `${name}: the last hour`);
    if (!dialog.open) dialog.showModal();
    await loadHistory();
  }
  async function loadHistory() {
    clearTimeout(historyTimer);
    if (!dialog.open || !historyNode) return;
    const name = historyNode;
    try {
      const res = await fetch(url(name, 'history'), {cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT_MS)});
      if (res.status === 401) { dialog.close(); showLogin(''); return; }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const h = await res.json();
      if (name !== historyNode) return;
      drawChart(h);
      renderTimeline(h.events);
    } catch (e) {
      setText($('chart-caption'), `History unavailable: ${e.message}`);
    }
    // A new bucket every 15 s.
    historyTimer = setTimeout(loadHistory, 15000);
  }
  // drawChart plots the average draw per bucket as a line over the band of
  // each bucket's minimum and maximum, with the window's events as marks.
  function drawChart(h) {
    const svg = $('chart'), W = 640, H = 180, L = 44, R = 8, T = 10, B = 22;
    for (const el of [...svg.children]) if (el.tagName !== 'title') el.remove();
    const now = Date.now(), from = Math.min(new Date(h.since).getTime(), now - 3600e3), span = now - from;
    const m = h.meter;
    const top = Math.max(10, ...m.map((s) => s.max)) * 1.1;
    const x = (t) => L + (W - L - R) * (t - from) / span, y = (w) => T + (H - T - B) * (1 - w / top);
    svg.dataset.samples = m.length;
    svg.dataset.max = Math.round(top);
    for (const f of [0, 0.5, 1]) {
      svg.append(svgEl('line', {class: 'grid-line', x1: L, x2: W - R, y1: y(top * f / 1.1), y2: y(top * f / 1.1)}));
      svg.append(svgEl('text', {class: 'axis', x: L - 4, y: y(top * f / 1.1) + 4, 'text-anchor': 'end'}, `${Math.round(top * f / 1.1)} W`));
    }
    for (const [t, label] of [[from, '−60 min'], [from + span / 2, '−30 min'], [now, 'now']]) {
      svg.append(svgEl('text', {class: 'axis', x: x(t), y: H - 6, 'text-anchor': t === from ? 'start' : t === now ? 'end' : 'middle'}, label));
    }
    // Runs of consecutive buckets; a missing bucket breaks the line.
    const step = h.bucket_seconds * 1000, runs = [];
    for (const s of m) {
      const t = new Date(s.at).getTime() + step / 2;
      const run = runs[runs.length - 1];
      if (run && t - run[run.length - 1].t <= step * 1.5) run.push({t, s}); else runs.push([{t, s}]);
    }
    for (const run of runs) {
      const up = run.map((p) => `${x(p.t).toFixed(1)},${y(p.s.max).toFixed(1)}`);
      const down = run.slice().reverse().map((p) => `${x(p.t).toFixed(1)},${y(p.s.min).toFixed(1)}`);
      svg.append(svgEl('polygon', {class: 'band', points: up.concat(down).join(' ')}));
      svg.append(svgEl('polyline', {class: 'avg', points: run.map((p) => `${x(p.t).toFixed(1)},${y(p.s.avg).toFixed(1)}`).join(' ')}));
    }
    for (const e of h.events) {
      const t = new Date(e.at).getTime();
      if (t < from) continue;
      const mark = svgEl('line', {class: `mark ${e.severity}`, x1: x(t), x2: x(t), y1: T, y2: H - B});
      mark.append(svgEl('title', {}, `${fmtTime(e.at, true)} ${e.message}`));
      svg.append(mark);
    }
    if (!m.length) {
      svg.append(svgEl('text', {class: 'none', x: W / 2, y: H / 2, 'text-anchor': 'middle'}, 'No metered readings in the last hour'));
    }
    let n = 0, sum = 0, lo = Infinity, hi = -Infinity;
    for (const s of m) { n += s.count; sum += s.avg * s.count; lo = Math.min(lo, s.min); hi = Math.max(hi, s.max); }
    setText($('history-stats'), n ? `Last hour: min ${Math.round(lo)} W, average ${Math.round(sum / n)} W, max ${Math.round(hi)} W (${n} readings)` : 'Not metered: no power draw recorded.');
    setText($('chart-caption'), `Power draw per ${h.bucket_seconds} s: average (line), minimum to maximum (band); dashed: events.`);
  }
  function renderTimeline(events) {
    const ol = $('timeline');
    ol.replaceChildren(...events.slice().reverse().map((e) => {
      const li = document.createElement('li');
      li.className = e.severity;
      li.dataset.kind = e.kind;
      const t = document.createElement('time');
      t.dateTime = e.at;
      t.textContent = fmtTime(e.at, true);
      li.append(t, document.createTextNode(e.message));
      return li;
    }));
    $('timeline-empty').hidden = events.length > 0;
  }
  $('history-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => { clearTimeout(historyTimer); historyNode = ''; });

  // ---- Logging in, when the server asks for credentials.
  function showSession(sess) {
    document.body.classList.toggle('readonly', !sess.operator);
    const who = $('who');
    who.hidden = !sess.auth_required;
    setText(who, sess.auth_required ? `${sess.user} (${sess.role})` : '');
    $('logout').hidden = !sess.auth_required;
  }
  function showLogin(msg) {
    loggedOut = true;
    clearTimeout(timer);
    if (dialog.open) dialog.close();
    document.body.classList.add('logged-out');
    setAttr(conn, 'data-state', 'connecting');
    setText($('conn-text'), 'Not logged in');
    $('retry').hidden = true;
    $('login').hidden = false;
    $('who').hidden = true;
    $('logout').hidden = true;
    const err = $('login-error');
    err.textContent = msg;
    err.hidden = !msg;
    $('login-user').focus();
  }
  function loggedIn(sess) {
    loggedOut = false;
    document.body.classList.remove('logged-out');
    $('login').hidden = true;
    showSession(sess);
    loadVersion();
    poll();
  }
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = $('login-error');
    try {
      const res = await fetch('/api/v1/session', {method: 'POST', headers: POST_HEADERS, cache: 'no-store',
        body: JSON.stringify({username: $('login-user').value, password: $('login-password').value}),
        signal: AbortSignal.timeout(TIMEOUT_MS)});
      const data = await res.json().catch(() => null);
      if (!res.ok) throw new Error((data && data.error) || `HTTP ${res.status}`);
      $('login-password').value = '';
      loggedIn(data);
    } catch (e) {
      err.textContent = `Login failed: ${e.message}`;
      err.hidden = false;
    }
  });
  $('logout').addEventListener('click', async () => {
    try {
      await fetch('/api/v1/session', {method: 'DELETE', headers: {'X-Requested-By': 'powerjockey'}, cache: 'no-store'});
    } catch (_) { /* logged out locally either way */ }
    showLogin('Logged out.');
  });
  async function loadVersion() {
    try {
      const res = await fetch('/api/v1/version', {cache: 'no-store'});
      if (!res.ok) return;
      const v = await res.json();
      setText($('version'), `powerjockey ${v.version}${v.commit ? ' (' + v.commit.slice(0, 12) + ')' : ''}`);
    } catch (_) { /* not shown */ }
  }
  async function start() {
    try {
      const res = await fetch('/api/v1/session', {cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT_MS)});
      if (res.status === 401) { showLogin(''); return; }
      if (res.ok) { loggedIn(await res.json()); return; }
    } catch (_) { /* the poll reports it */ }
    poll();
  }
  start();
})();

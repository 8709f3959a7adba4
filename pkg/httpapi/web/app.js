// powerjockey's live rack page: polls /api/v1/nodes and updates the DOM in
// place (one card per node, touched only where something changed). No
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
  let failures = 0, timer = 0, polling = false, firstRender = true;

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
    for (const b of el.querySelectorAll('button')) b.setAttribute('aria-label', `Power ${b.dataset.action} ${name}`);
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
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render(await res.json());
      failures = 0;
      setConn(true);
    } catch (e) {
      failures++;
      setConn(false, e.name === 'TimeoutError' ? 'no answer' : e.name === 'TypeError' ? 'unreachable' : e.message);
    } finally {
      polling = false;
    }
    timer = setTimeout(poll, failures ? Math.min(POLL_MS * 2 ** (failures - 1), MAX_RETRY_MS) : POLL_MS);
  }

  async function post(path, body) {
    const res = await fetch(path, {method: 'POST', headers: POST_HEADERS, body: JSON.stringify(body || {}),
      cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT_MS)});
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON */ }
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
  poll();
})();

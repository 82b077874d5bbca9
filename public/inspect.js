// The Hubbub inspector's script: talks to /debug (docs/debug.md) and draws.
// Plain browser JavaScript, no dependencies and no build step. Every name that
// comes from the broker (user names, rooms, frame text) is untrusted: it only
// ever goes into textContent, never into HTML.

import { drawMachine } from '/inspect-machine.js';
// The client library's pieces, as the broker serves them to the chat page: one backoff and one table of close words.
import { backoffDelay, DEFAULT_BACKOFF } from '/client/backoff.js';
import { closeDetail, closeWords } from '/client/close-words.js';

const $ = (sel) => document.querySelector(sel);
const SVG = 'http://www.w3.org/2000/svg';
const HISTORY_SECONDS = 300;

const view = {
  ws: null,
  req: 0,
  waiting: new Map(),
  // Unsorted by default: the broker then walks only up to the page (sorting walks every actor).
  query: { sort: undefined, order: undefined, offset: 0, limit: 50, q: '', state: '', room: '' },
  selected: null,
  samples: [], // {at, runQueue, messagesPerSec, connections}
  refreshTimer: null,
  tableDirty: false,
  // Reconnecting after a drop: failed tries so far, and the timer of the next one.
  retry: { attempt: 0, timer: null },
  stopped: false, // the user pressed Disconnect: the close that follows is not a drop
};

// ---------- connection ----------

// A token that worked is kept and reused when the connection drops (a broker
// restart): retried with backoff while the broker is away. The browser hides
// why an upgrade was refused, so /healthz tells the two failures apart: a
// broker that answers it but not the upgrade refused the token (a generated
// one changes at every restart).
function connect(token, { retrying = false } = {}) {
  clearTimeout(view.retry.timer);
  if (!retrying) view.retry.attempt = 0;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/debug?token=${encodeURIComponent(token)}`);
  let opened = false;
  if (!retrying) setStatus('connecting…', '');
  ws.onopen = async () => {
    opened = true;
    view.retry.attempt = 0;
    view.ws = ws;
    sessionStorage.setItem('hubbub-debug-token', token);
    $('#login').hidden = true;
    setStatus(`live — ${location.host}`, 'live');
    const history = await request({ op: 'history' });
    view.samples = history.samples.slice();
    drawCharts();
    await request({ op: 'subscribe', topics: ['lifecycle', 'transitions', 'stats'] });
    showStats(await request({ op: 'stats' }));
    await refreshTable();
    view.refreshTimer = setInterval(tick, 1000);
  };
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = (e) => {
    clearInterval(view.refreshTimer);
    view.ws = null;
    for (const reject of view.waiting.values()) reject.reject(new Error('closed'));
    view.waiting.clear();
    if (view.stopped) {
      view.stopped = false;
      setStatus('not connected', 'down');
      showLogin('Disconnected. Connect again?');
    } else if (opened) {
      setStatus(`${closeWords(e.code)} — reconnecting…`, 'down', closeDetail(e.code, e.reason));
      retryLater(token);
    } else {
      whyRefused(token, retrying);
    }
  };
}

/** The upgrade failed: the broker is away (try again later, when it was working) or it refused the token. */
async function whyRefused(token, retrying) {
  let up = false;
  try {
    up = (await fetch('/healthz', { cache: 'no-store' })).ok;
  } catch {
    // no answer at all: the broker is not running (yet)
  }
  if (up) {
    setStatus('not connected', 'down');
    if (retrying) $('#token').value = '';
    showLogin(retrying
      ? 'The broker is back but no longer accepts this token: it probably restarted with a newly generated one (printed in its startup log). Start it with --debug-token <secret> (or HUBBUB_DEBUG_TOKEN) to keep one token across restarts.'
      : 'The broker refused the connection: wrong token, or the debug channel is off.');
  } else if (retrying || sessionStorage.getItem('hubbub-debug-token') === token) {
    // Retrying: the status still says why the connection dropped.
    if (!retrying) setStatus('the broker is not answering — reconnecting…', 'down');
    retryLater(token);
  } else {
    setStatus('not connected', 'down');
    showLogin('The broker is not answering. Is it running?');
  }
}

function retryLater(token) {
  const delay = backoffDelay(view.retry.attempt++, { ...DEFAULT_BACKOFF, maxMs: 5000 });
  $('#status').dataset.attempt = view.retry.attempt;
  view.retry.timer = setTimeout(() => connect(token, { retrying: true }), delay);
}

function request(op) {
  return new Promise((resolve, reject) => {
    if (view.ws === null) return reject(new Error('not connected'));
    const req = ++view.req;
    view.waiting.set(req, { resolve, reject });
    view.ws.send(JSON.stringify({ ...op, req }));
  });
}

function onMessage(msg) {
  if (msg.req !== undefined && view.waiting.has(msg.req)) {
    const w = view.waiting.get(msg.req);
    view.waiting.delete(msg.req);
    if (msg.type === 'error') w.reject(new Error(msg.message));
    else w.resolve(msg);
    return;
  }
  switch (msg.topic) {
    case 'stats':
      showStats(msg);
      view.samples.push({ at: msg.at, runQueue: msg.scheduler.runQueueMax, messagesPerSec: msg.rates.messagesPerSec, connections: msg.connections });
      while (view.samples.length > HISTORY_SECONDS) view.samples.shift();
      drawCharts();
      break;
    case 'lifecycle':
    case 'transitions':
      // Someone came, changed or went: redraw the table soon, at most once per 200 ms.
      if (!view.tableDirty) {
        view.tableDirty = true;
        setTimeout(() => refreshTable().catch(() => {}), 200);
      }
      break;
  }
}

async function tick() {
  try {
    await refreshTable(); // counters and mailboxes move all the time: redraw the page each second
    if (view.selected !== null) await refreshDetail();
  } catch {
    // a reply lost to a closing socket; onclose says so
  }
}

// ---------- stats and charts ----------

function showStats(s) {
  const cards = [
    ['actors', s.actors.total], ['open', s.actors.byState.open], ['connecting', s.actors.byState.connecting],
    ['closing', s.actors.byState.closing], ['rooms', s.rooms], ['msgs/s', s.rates.messagesPerSec],
    ['run queue', s.scheduler.runQueue + s.scheduler.globalQueue], ['slices', s.scheduler.slices],
    ['budget yields', s.scheduler.budgetYields], ['overruns', s.scheduler.overruns],
    ['max slice', `${s.scheduler.maxSliceMs.toFixed(1)} ms`], ['uptime', duration(s.uptimeMs)],
  ];
  const box = $('#cards');
  box.replaceChildren(...cards.map(([label, value]) => {
    const div = el('div', 'card');
    div.append(el('b', '', typeof value === 'number' ? value.toLocaleString() : value), el('span', '', label));
    return div;
  }));
}

function drawCharts() {
  const now = view.samples.length ? view.samples[view.samples.length - 1].at : Date.now();
  for (const key of ['runQueue', 'messagesPerSec', 'connections']) {
    const box = $(`#chart-${key}`);
    const svg = box.querySelector('svg');
    const pts = view.samples.filter((p) => p.at >= now - HISTORY_SECONDS * 1000);
    const max = Math.max(1, ...pts.map((p) => p[key]));
    const xy = pts.map((p) => [300 - ((now - p.at) / 1000) * (300 / HISTORY_SECONDS), 88 - (p[key] / max) * 80]);
    const line = xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
    svg.replaceChildren();
    if (xy.length > 0) {
      const area = document.createElementNS(SVG, 'polygon');
      area.setAttribute('points', `${xy[0][0].toFixed(1)},90 ${line} ${xy[xy.length - 1][0].toFixed(1)},90`);
      const poly = document.createElementNS(SVG, 'polyline');
      poly.setAttribute('points', line);
      // The newest sample as a dot: with one sample the line alone would draw nothing.
      const [lx, ly] = xy[xy.length - 1];
      const dot = document.createElementNS(SVG, 'ellipse');
      for (const [k, v] of Object.entries({ cx: lx - 2, cy: ly, rx: 2, ry: 3, fill: '#4fb3ff' })) dot.setAttribute(k, String(v));
      svg.append(area, poly, dot);
    }
    const last = pts.length ? pts[pts.length - 1][key] : 0;
    box.querySelector('.value').textContent = `${last.toLocaleString()} (max ${max.toLocaleString()})`;
  }
}

// ---------- the actor table ----------

async function refreshTable() {
  view.tableDirty = false;
  const q = view.query;
  const op = { op: 'actors', offset: q.offset, limit: q.limit };
  if (q.sort) op.sort = q.sort;
  if (q.order) op.order = q.order;
  if (q.q) op.q = q.q;
  if (q.state) op.state = q.state;
  if (q.room) op.room = q.room;
  const page = await request(op);
  if (page.total > 0 && q.offset >= page.total) {
    q.offset = Math.max(0, Math.floor((page.total - 1) / q.limit) * q.limit);
    return refreshTable();
  }
  const rows = page.items.map((a) => {
    const tr = el('tr');
    tr.dataset.id = a.id;
    if (a.id === view.selected) tr.className = 'selected';
    tr.append(
      el('td', '', a.id), el('td', '', a.user ?? '—'), el('td', `st-${a.state}`, a.state),
      el('td', '', a.rooms.join(', ')), el('td', 'num', String(a.mailbox)), el('td', 'num', a.handled.toLocaleString()),
      el('td', 'num', duration(a.lastActiveMs)),
    );
    tr.addEventListener('click', () => select(a.id));
    return tr;
  });
  $('#actors tbody').replaceChildren(...rows);
  const from = page.total === 0 ? 0 : q.offset + 1;
  $('#page-info').textContent = `${from}–${q.offset + page.items.length} of ${page.total.toLocaleString()}`;
  $('#prev').disabled = q.offset === 0;
  $('#next').disabled = q.offset + page.items.length >= page.total;
  for (const th of document.querySelectorAll('#actors th[data-sort]')) {
    const on = th.dataset.sort === q.sort;
    th.classList.toggle('sorted', on);
    th.textContent = th.dataset.sort === 'lastActive' ? 'idle' : th.dataset.sort;
    if (on) th.textContent += q.order === 'asc' ? ' ▲' : q.order === 'desc' ? ' ▼' : ' •';
  }
}

function requery() {
  view.query.offset = 0;
  refreshTable().catch(() => {});
}

// ---------- one actor ----------

async function select(id) {
  view.selected = id;
  for (const tr of document.querySelectorAll('#actors tbody tr')) tr.classList.toggle('selected', tr.dataset.id === id);
  // Stacked under the table (a narrow screen), the panel would fill in out of sight.
  if ($('#detail').getBoundingClientRect().top > innerHeight) $('#detail').scrollIntoView({ block: 'start' });
  await refreshDetail();
}

async function refreshDetail() {
  let a;
  try {
    a = await request({ op: 'actor', id: view.selected });
  } catch {
    $('#detail-empty').textContent = `${view.selected} is gone (stopped).`;
    $('#detail-empty').hidden = false;
    $('#detail-body').hidden = true;
    view.selected = null;
    return;
  }
  $('#detail-empty').hidden = true;
  $('#detail-body').hidden = false;
  drawMachine($('#machine'), a);
  const fields = [
    ['id', a.id], ['kind', a.kind], ['user', a.user ?? '—'], ['state', typeof a.state === 'string' ? a.state : JSON.stringify(a.state)],
    ['status', a.status], ['remote', a.remote ?? '—'], ['rooms', a.rooms.join(', ') || '—'],
    ['mailbox', `${a.mailbox.depth} / ${a.mailbox.capacity} (allocated ${a.mailbox.allocated})`],
    ...(a.input ? [['input', inputText(a.input)]] : []),
    ['handled', a.counters.handled.toLocaleString()], ['turns', a.counters.turns.toLocaleString()],
    ['budget yields', a.counters.budgetYields], ['dropped', a.counters.dropped],
    ['created', new Date(a.createdAt).toLocaleTimeString()], ['idle', duration(a.lastActiveMs)],
  ];
  $('#detail-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', '', k), el('dd', '', String(v))]));
  $('#detail-context').textContent = JSON.stringify(a.context, null, 2);
  $('#events-note').textContent = a.events.length ? `(last ${a.events.length})` : '(none in the trace window)';
  $('#events tbody').replaceChildren(...a.events.slice().reverse().map((e) => {
    const { at, type, ...rest } = e;
    const tr = el('tr');
    tr.append(el('td', '', new Date(at).toLocaleTimeString()), el('td', '', rest.op ? `${type}:${rest.op}` : type),
      el('td', '', Object.entries(rest).filter(([k]) => k !== 'op').map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')));
    return tr;
  }));
  $('#kick').hidden = a.kind !== 'connection';
}

// ---------- helpers and wiring ----------

/** A connection's input: read, or paused, and what holds its frames. */
function inputText({ reading, held, heldBy }) {
  const why = heldBy ? `, ${held.toLocaleString()} held by ${heldBy === 'welcome' ? 'the welcome' : `the ${heldBy}`}` : '';
  return `${reading ? 'reading' : 'paused'}${why}`;
}

function el(tag, cls = '', text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function duration(ms) {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} m`;
}

/** The header's status; `title`: details (a close code) for the tooltip. */
function setStatus(text, cls, title = '') {
  const s = $('#status');
  s.textContent = text;
  s.className = cls;
  s.title = title;
}

function showLogin(error) {
  $('#login').hidden = false;
  $('#login-error').textContent = error ?? '';
  $('#token').focus();
}

let debounce = null;
function onFilter() {
  clearTimeout(debounce);
  debounce = setTimeout(() => {
    view.query.q = $('#filter-q').value.trim();
    view.query.state = $('#filter-state').value;
    view.query.room = $('#filter-room').value.trim();
    view.query.limit = Number($('#page-size').value);
    requery();
  }, 200);
}

$('#login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  $('#login-error').textContent = '';
  connect($('#token').value.trim());
});
$('#disconnect').addEventListener('click', () => {
  clearTimeout(view.retry.timer);
  if (view.ws === null) return;
  view.stopped = true; // a drop the user asked for: no reconnecting
  view.ws.close(1000);
});
for (const id of ['#filter-q', '#filter-room']) $(id).addEventListener('input', onFilter);
for (const id of ['#filter-state', '#page-size']) $(id).addEventListener('change', onFilter);
$('#prev').addEventListener('click', () => { view.query.offset = Math.max(0, view.query.offset - view.query.limit); refreshTable().catch(() => {}); });
$('#next').addEventListener('click', () => { view.query.offset += view.query.limit; refreshTable().catch(() => {}); });
for (const th of document.querySelectorAll('#actors th[data-sort]')) {
  th.addEventListener('click', () => {
    const q = view.query;
    if (q.sort === th.dataset.sort) q.order = q.order === 'asc' ? 'desc' : 'asc';
    else { q.sort = th.dataset.sort; q.order = undefined; }
    requery();
  });
}
$('#kick').addEventListener('click', async () => {
  if (view.selected === null) return;
  const reason = prompt(`Kick ${view.selected}? Reason:`, 'kicked by an operator');
  if (reason === null) return;
  await request({ op: 'kick', id: view.selected, reason }).catch((err) => alert(err.message));
});

// A token in the address (#token=…) or from this tab's last visit connects at once.
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
const saved = fromHash ?? sessionStorage.getItem('hubbub-debug-token');
if (saved) {
  $('#token').value = saved;
  connect(saved);
} else {
  showLogin();
}

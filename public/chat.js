// The chat page: all talk with the broker goes through the client library
// (served by the broker from tsc's output), which reconnects and rejoins by
// itself. What the page shows lives in sessionStorage, so a reload (or a
// broker restart followed by one) shows the same conversation.
//
// Any member of a room can send it the largest messages the broker takes, as
// fast as the broker carries them, so everything the page keeps is bounded:
// lines and characters per room (in memory and in the list), what it stores
// (written at most a few times a second, cut to fit the storage quota), and
// how much of one long message the list shows until asked.
import { backWords, closeDetail, closeWords, createClient, OutageWatch } from '/client/browser.js';

const STORE = 'hubbub.chat.v1';
// The direct messages' pane: '' is no room's name (the broker refuses empty
// names), so no room can be shown as DMs.
const DIRECT = '';
const MAX_LINES = 300;
/** Characters of text a room keeps: ~20 messages of the broker's largest, hundreds of ordinary ones. */
const MAX_ROOM_CHARS = 1_000_000;
/** What the page stores at most, all rooms together (sessionStorage holds ~5M characters per origin). */
const MAX_STORED_CHARS = 2_000_000;
/** A message longer than this shows its start and a button for the rest. */
const FOLD_CHARS = 1_000;
/** Saves are coalesced: at most one a this many ms (and one as the page goes away). */
const SAVE_DELAY_MS = 250;
const $ = (id) => document.getElementById(id);

/**
 * { name, user, current, rooms: Map(room -> { lastSeq, unread, lines: [{kind, from, to, text, ts}] }) }.
 * A Map, never an object keyed by room: room names are chosen by clients, and
 * `__proto__` or `constructor` as an object key would reach the prototype.
 */
let view = null;
let client = null;
const members = new Map();

function load() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORE));
    if (stored === null || !Array.isArray(stored.rooms)) return null;
    return { ...stored, rooms: new Map(stored.rooms) };
  } catch { return null; }
}
let saveTimer = null;
/** Stores the view soon: a flood of lines costs one write per SAVE_DELAY_MS, not one per line. */
function save() {
  saveTimer ??= setTimeout(saveNow, SAVE_DELAY_MS);
}
/**
 * Writes the view, each room's newest lines within its share of
 * MAX_STORED_CHARS; if the browser's quota is smaller still, with half as
 * many characters each try (at last none: the rooms and where each was read
 * up to). Never throws: a full storage must not stop the page.
 */
function saveNow() {
  clearTimeout(saveTimer);
  saveTimer = null;
  if (view === null) return; // signed out
  for (let budget = Math.floor(MAX_STORED_CHARS / Math.max(1, view.rooms.size)); ; budget = Math.floor(budget / 2)) {
    const rooms = [...view.rooms].map(([name, room]) => [name, { ...room, lines: newestWithin(room.lines, budget) }]);
    try {
      sessionStorage.setItem(STORE, JSON.stringify({ ...view, rooms }));
      return;
    } catch {
      if (budget === 0) return;
    }
  }
}
addEventListener('pagehide', saveNow);
/** The newest lines whose texts add up to at most `chars` characters. */
function newestWithin(lines, chars) {
  let i = lines.length;
  for (let used = 0; i > 0 && used + lines[i - 1].text.length <= chars; i--) used += lines[i - 1].text.length;
  return lines.slice(i);
}
function roomNames() {
  return [...view.rooms.keys()].filter((name) => name !== DIRECT);
}

function start() {
  $('login').hidden = true;
  $('chat').hidden = false;
  $('signout').hidden = false;
  localStorage.setItem('hubbub.name', view.name);
  const rooms = new Map();
  for (const name of roomNames()) rooms.set(name, view.rooms.get(name).lastSeq);
  // After a reload: the name the broker gave and its resume secret, so the name comes back (unseen within the grace).
  client = createClient(location.origin, { name: view.user ?? view.name, resume: view.resume, rooms });
  client.on('state', showState);
  client.on('welcome', (w) => {
    view.user = w.user;
    view.resume = w.resume;
    $('me').textContent = `as ${w.user}`;
    if (w.asked !== undefined) notice(`you are now ${w.user} (${w.asked} was taken)`);
    save();
  });
  // One line per outage in each room, in words; the close code only in the tooltip.
  const outage = new OutageWatch(client);
  outage.on('down', (d) => {
    for (const name of roomNames()) addLine(name, sys(`${d.words} — reconnecting…`, d.detail));
  });
  outage.on('roomBack', (r) => {
    if (r.room !== DIRECT) addLine(r.room, sys(backWords(r.caughtUp, r.gap)));
  });
  client.on('joined', (ev) => {
    members.set(ev.room, new Set(ev.users));
    ensureRoom(ev.room);
    render();
  });
  client.on('presence', (ev) => {
    const set = members.get(ev.room) ?? new Set();
    members.set(ev.room, set);
    const joined = ev.event === 'batch' ? ev.joined : ev.event === 'join' ? [ev.user] : [];
    const left = ev.event === 'batch' ? ev.left : ev.event === 'leave' ? [ev.user] : [];
    for (const u of joined) { set.add(u); addLine(ev.room, sys(`${u} joined`)); }
    for (const u of left) { set.delete(u); addLine(ev.room, sys(`${u} left`)); }
    if (ev.room === view.current) renderMembers();
  });
  client.on('message', (ev) => {
    ensureRoom(ev.room).lastSeq = ev.seq;
    addLine(ev.room, { kind: 'msg', from: ev.from, name: ev.fromName, text: ev.text, ts: ev.ts, mine: ev.from === view.user });
  });
  client.on('dm', (ev) => addLine(DIRECT, { kind: 'msg', from: ev.from, name: ev.fromName, to: 'you', text: ev.text, ts: ev.ts, mine: ev.from === view.user }));
  client.on('error', (err) => notice(err.message));
  client.on('close', (c) => notice(`${closeWords(c.code)}; reload the page to connect again`, closeDetail(c.code, c.reason)));
  render();
}

function showState(s) {
  const el = $('state');
  el.dataset.state = s.state;
  el.dataset.attempt = s.attempt;
  const queued = client.queued > 0 ? ` · ${client.queued} waiting` : '';
  el.textContent = s.state === 'open' ? 'connected'
    : s.state === 'reconnecting' ? `reconnecting…${queued}`
    : s.state === 'connecting' ? 'connecting…' : 'disconnected';
  // The retry count and the wait are for the curious, in the tooltip.
  el.title = s.state === 'reconnecting' ? `try ${s.attempt}${s.delayMs !== undefined ? `, next in ${(s.delayMs / 1000).toFixed(1)} s` : ''}` : '';
}

function ensureRoom(name) {
  let room = view.rooms.get(name);
  if (room === undefined) {
    room = { lastSeq: null, unread: 0, lines: [] };
    view.rooms.set(name, room);
    save();
    renderRooms();
  }
  return room;
}

/** A line from the page itself; `title` (optional) is the tooltip: details a person need not read. */
function sys(text, title) {
  return title === undefined ? { kind: 'sys', text, ts: Date.now() } : { kind: 'sys', text, title, ts: Date.now() };
}

function addLine(name, line) {
  const room = ensureRoom(name);
  room.lines.push(line);
  // The newest line stays even alone over the bound: the page never drops what just came.
  const keep = newestWithin(room.lines, MAX_ROOM_CHARS).length;
  const drop = room.lines.length - Math.max(1, Math.min(MAX_LINES, keep));
  if (drop > 0) room.lines.splice(0, drop);
  if (name === view.current) {
    appendLine(line);
    // The list shows the room's lines, no more: those just dropped leave it too.
    const list = $('messages');
    while (list.childElementCount > room.lines.length) list.firstElementChild.remove();
  }
  else if (line.kind === 'msg' && !line.mine) {
    // Unread counts what other people said: not the page's own lines, not what you sent.
    room.unread = (room.unread ?? 0) + 1;
    renderRooms();
  }
  save();
}

function select(name) {
  view.current = name;
  ensureRoom(name).unread = 0;
  save();
  render();
}

function joinRoom(name) {
  ensureRoom(name);
  select(name);
  client.join(name).catch((err) => {
    notice(`could not join ${name}: ${err.message}`);
    view.rooms.delete(name);
    select(roomNames()[0] ?? DIRECT);
  });
}

function leaveRoom(name) {
  if (name === DIRECT) return;
  client.leave(name).catch((err) => notice(err.message));
  view.rooms.delete(name);
  members.delete(name);
  select(roomNames()[0] ?? DIRECT);
}

function sendText(room, text) {
  const li = document.createElement('li');
  li.textContent = `sending: ${text}`;
  $('outbox').append(li);
  client.send(room, text).then(
    () => li.remove(),
    (err) => { li.className = 'failed'; li.textContent = `not sent (${err.code}): ${text}`; },
  );
}

function command(input) {
  const [cmd, ...args] = input.split(/\s+/);
  switch (cmd) {
    case '/join': return args[0] ? joinRoom(args[0]) : notice('usage: /join room');
    case '/leave': return leaveRoom(args[0] ?? view.current);
    case '/who':
      return client.who(args[0] ?? view.current).then(
        (w) => addLine(w.room, sys(`here (${w.count}): ${w.users.join(', ')}`)), (err) => notice(err.message));
    case '/dm': {
      const [to, ...words] = args;
      const text = words.join(' ');
      if (!to || !text) return notice('usage: /dm name text');
      return client.dm(to, text).then(
        () => addLine(DIRECT, { kind: 'msg', from: 'you', to, text, ts: Date.now(), mine: true }), (err) => notice(err.message));
    }
    default: return notice(`unknown command ${cmd}`);
  }
}

// --- rendering ---

// The message list stays on the newest line unless the reader scrolled up. Decided by
// the reader's scrolling, not measured at each append: the outbox line of a pending
// send takes height from the list, which would otherwise look like a scroll up.
let stickToBottom = true;
let lastScrollTop = 0;
$('messages').addEventListener('scroll', () => {
  const list = $('messages');
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  // Only a move up unsticks (ours only ever go down); reaching the bottom sticks again.
  if (atBottom) stickToBottom = true;
  else if (list.scrollTop < lastScrollTop) stickToBottom = false;
  lastScrollTop = list.scrollTop;
});
new ResizeObserver(() => {
  if (stickToBottom) $('messages').scrollTop = $('messages').scrollHeight;
}).observe($('messages'));

function render() {
  renderRooms();
  renderMembers();
  const list = $('messages');
  stickToBottom = true; // a room just opened shows its newest lines
  list.replaceChildren();
  for (const line of view.rooms.get(view.current)?.lines ?? []) appendLine(line);
}

function renderRooms() {
  const list = $('rooms');
  list.replaceChildren();
  for (const [name, room] of view.rooms) {
    const li = document.createElement('li');
    li.dataset.room = name;
    li.className = name === view.current ? 'active' : '';
    li.textContent = name === DIRECT ? 'direct messages' : `#${name}`;
    if (room.unread > 0 && name !== view.current) {
      const badge = document.createElement('span');
      badge.className = 'unread';
      badge.textContent = room.unread;
      li.append(badge);
    }
    li.onclick = () => select(name);
    list.append(li);
  }
}

function renderMembers() {
  const list = $('members');
  list.replaceChildren();
  for (const user of [...(members.get(view.current) ?? [])].sort()) {
    const li = document.createElement('li');
    li.textContent = user;
    li.style.color = colour(user);
    list.append(li);
  }
}

function appendLine(line) {
  const list = $('messages');
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = new Date(line.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  li.append(time);
  if (line.kind === 'sys') {
    li.className = 'sys';
    li.append(line.text);
    if (line.title) li.title = line.title;
  } else {
    li.className = 'msg';
    li.dataset.from = line.from;
    const from = document.createElement('span');
    from.className = 'from';
    // The id, always; a display name (anyone may choose any) only beside it.
    from.textContent = (line.name ? `${line.name} (${line.from})` : line.from) + (line.to ? ` → ${line.to}` : '');
    from.style.color = colour(line.from);
    const text = document.createElement('span');
    text.className = 'text';
    li.append(from, text);
    if (line.text.length <= FOLD_CHARS) text.textContent = line.text;
    else {
      // A long message takes a screenful per line and layout time per character: its start, and the rest on a click.
      text.textContent = `${line.text.slice(0, FOLD_CHARS)}…`;
      const more = document.createElement('button');
      more.type = 'button';
      more.className = 'more';
      more.textContent = `show all ${line.text.length.toLocaleString()} characters`;
      more.onclick = () => {
        text.textContent = line.text;
        more.remove();
      };
      li.append(more);
    }
  }
  list.append(li);
  if (stickToBottom) list.scrollTop = list.scrollHeight;
}

function colour(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return `hsl(${h % 360} 65% 38%)`;
}

function notice(text, title = '') {
  $('notice').textContent = text;
  $('notice').title = title;
}

// --- wiring ---

$('login').onsubmit = (e) => {
  e.preventDefault();
  const room = $('login-room').value.trim() || 'lobby';
  view = { name: $('name').value.trim(), current: room, rooms: new Map([[room, { lastSeq: null, unread: 0, lines: [] }]]) };
  saveNow(); // a signed-in page has its view stored from the start
  start();
};
$('join-form').onsubmit = (e) => {
  e.preventDefault();
  const name = $('join-room').value.trim();
  $('join-room').value = '';
  if (name) joinRoom(name);
};
$('composer').onsubmit = (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (text.trim() === '') return;
  $('text').value = '';
  notice('');
  if (text.startsWith('/')) command(text.trim());
  else if (view.current === DIRECT) notice('to send a direct message: /dm name text');
  else sendText(view.current, text);
};
$('signout').onclick = () => {
  client?.close();
  view = null; // nothing saved from here on, not even as the page goes
  sessionStorage.removeItem(STORE);
  location.reload();
};

view = load();
if (view?.name) start();
else $('name').value = localStorage.getItem('hubbub.name') ?? '';

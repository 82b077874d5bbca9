// Draws an actor's state machine for the Hubbub inspector: the states in a
// row, the current one lit, each transition an arrow labelled with its events.
// The machine comes from the `actor` reply (docs/debug.md), read from the
// xstate definition on the broker, so a new state shows up here by itself.
//
// Labels are placed, not just written at a fixed spot: each is a box with a
// background, tried on its edge, then beside it further and further out (an
// arc is raised instead, its label riding on top), until the box touches no
// state, no other label and no other edge. One user unit is one pixel, so a
// label reads the same on a phone as on a desk; a panel narrower than the
// drawing scrolls it (inspect.css).

const SVG = 'http://www.w3.org/2000/svg';
const H = 30; // a state's height
const GAP = 28; // between two states in the row
const PAD = 10; // beside a state's name
const LINE = 12; // a label's line height (its text is 10 px, inspect.css)
const LPAD = 3; // around a label's text
const STEP = 4; // how far a label or an arc moves between two tries
const TRIES = 60;
const MARGIN = 4;

function el(name, attrs = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** The drawn width of `text` as the class `cls` styles it; an estimate while the panel is not displayed. */
function measure(svg, cls, text, emWidth) {
  const g = el('g', { class: cls });
  const t = el('text');
  t.textContent = text;
  g.append(t);
  svg.append(g);
  const width = t.getComputedTextLength();
  g.remove();
  return width > 0 ? width : text.length * emWidth;
}

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const grown = (b, m) => ({ x: b.x - m, y: b.y - m, w: b.w + 2 * m, h: b.h + 2 * m });
const holds = (b, p) => p.x >= b.x && p.x <= b.x + b.w && p.y >= b.y && p.y <= b.y + b.h;

/** Points along the cubic from p0 to p3: enough to tell whether it crosses a label's box. */
function sampleCubic(p0, p1, p2, p3, n = 120) {
  const points = [];
  for (let k = 0; k <= n; k++) {
    const t = k / n, u = 1 - t;
    const [a, b, c, d] = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
    points.push({ x: a * p0.x + b * p1.x + c * p2.x + d * p3.x, y: a * p0.y + b * p1.y + c * p2.y + d * p3.y });
  }
  return points;
}

/** Per panel, the actor and state drawn last: a redraw of the same keeps the reader's scroll. */
const shown = new WeakMap();

/** The actor's machine: every state in a row, the current one highlighted, transitions as labelled arrows. */
export function drawMachine(box, a) {
  const machine = a.machine ?? { states: [String(a.state)], transitions: [], final: [] };
  const current = typeof a.state === 'string' ? a.state : Object.keys(a.state ?? {})[0];
  const scrolled = box.scrollLeft;
  const svg = el('svg');
  svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b6b7d"/></marker></defs>';
  // Attached before drawing, so that text can be measured.
  box.replaceChildren(svg);

  const W = Math.max(64, ...machine.states.map((s) => measure(svg, 'state', s, 6.6))) + 2 * PAD;
  const index = (name) => machine.states.indexOf(name);
  const left = (i) => i * (W + GAP);
  const centre = (i) => left(i) + W / 2;
  const mid = H / 2;
  const stateBoxes = machine.states.map((_, i) => ({ x: left(i), y: 0, w: W, h: H }));

  const edges = new Map();
  for (const t of machine.transitions) {
    const k = `${t.from}>${t.to}`;
    edges.set(k, [...(edges.get(k) ?? []), t.event]);
  }

  const placed = []; // label boxes
  const lines = []; // points of every edge drawn so far, with the edge's key
  const paths = [];
  const labelSize = (events) => ({
    w: Math.max(...events.map((ev) => measure(svg, 'edge-label', ev, 6))) + 2 * LPAD,
    h: events.length * LINE + 2 * LPAD,
  });
  // A label's box may touch nothing but its own edge.
  const free = (b, key) => !stateBoxes.some((s) => overlaps(grown(s, 2), b))
    && !placed.some((l) => overlaps(grown(l.box, 2), b))
    && !lines.some((p) => p.key !== key && holds(grown(b, 1), p));

  // Forward neighbours first: straight arrows along the row.
  const neighbours = [];
  const arcs = [];
  for (const [key, events] of edges) {
    const [from, to] = key.split('>');
    const i = index(from), j = index(to);
    if (i < 0 || j < 0) continue;
    (j === i + 1 ? neighbours : arcs).push({ key, events, i, j });
  }
  for (const e of neighbours) {
    const x1 = left(e.i) + W, x2 = left(e.j);
    paths.push({ key: e.key, d: `M${x1},${mid} L${x2 - 2},${mid}` });
    for (let x = x1; x <= x2; x += 2) lines.push({ key: e.key, x, y: mid });
  }
  for (const e of neighbours) {
    const { w, h } = labelSize(e.events);
    const gx = (left(e.i) + W + left(e.j)) / 2;
    const candidates = [];
    // On its arrow when the gap leaves some of the arrow showing; else above it, then below, further out each try.
    if (w <= GAP - 16) candidates.push({ x: gx - w / 2, y: mid - h / 2, w, h });
    for (let k = 0; k < TRIES; k++) {
      candidates.push({ x: gx - w / 2, y: mid - 3 - h - k * STEP, w, h }, { x: gx - w / 2, y: mid + 3 + k * STEP, w, h });
    }
    placed.push({ key: e.key, box: candidates.find((b) => free(b, e.key)) ?? candidates.at(-1), events: e.events });
  }

  // Then arcs, shortest first so that longer ones go around them, alternately above and below the row.
  arcs.sort((p, q) => Math.abs(p.j - p.i) - Math.abs(q.j - q.i));
  let above = false;
  for (const e of arcs) {
    above = !above;
    const side = above ? -1 : 1;
    const y0 = above ? 0 : H;
    const x1 = centre(e.i) - (e.i === e.j ? 8 : 0);
    const x2 = centre(e.j) + (e.i === e.j ? 8 : e.j > e.i ? -6 : 6);
    const { w, h } = labelSize(e.events);
    let chosen = null;
    for (let k = 0; k < TRIES && chosen === null; k++) {
      const lift = 16 + k * STEP;
      // A cubic whose two controls sit at the same height peaks at 3/4 of it.
      const cy = y0 + (side * lift) / 0.75;
      const points = sampleCubic({ x: x1, y: y0 }, { x: x1, y: cy }, { x: x2, y: cy }, { x: x2, y: y0 });
      const label = { x: (x1 + x2) / 2 - w / 2, y: y0 + side * lift - h / 2, w, h };
      const clear = points.every((p) => !placed.some((l) => holds(grown(l.box, 2), p)));
      if ((free(label, e.key) && clear) || k === TRIES - 1) chosen = { cy, points, label };
    }
    const { x: ex, y: ey } = { x: x2, y: y0 + side * 2 };
    paths.push({ key: e.key, d: `M${x1},${y0} C${x1},${chosen.cy} ${x2},${chosen.cy} ${ex},${ey}` });
    for (const p of chosen.points) lines.push({ key: e.key, ...p });
    placed.push({ key: e.key, box: chosen.label, events: e.events });
  }

  // data-edge pairs each arrow with its label (the browser test checks that no other edge crosses a label).
  for (const { key, d } of paths) svg.append(el('path', { class: 'edge', d, 'data-edge': key }));
  machine.states.forEach((name, i) => {
    const g = el('g', { class: `state${name === current ? ' current' : ''}` });
    g.dataset.state = name;
    g.append(el('rect', { x: left(i), y: 0, width: W, height: H, rx: machine.final.includes(name) ? 4 : 14 }));
    const text = el('text', { x: centre(i), y: mid + 4, 'text-anchor': 'middle' });
    text.textContent = name;
    g.append(text);
    svg.append(g);
  });
  for (const { key, box: b, events } of placed) {
    const g = el('g', { class: 'edge-label', 'data-edge': key });
    g.append(el('rect', { x: b.x, y: b.y, width: b.w, height: b.h, rx: 3 }));
    const text = el('text', { 'text-anchor': 'middle' });
    events.forEach((ev, n) => {
      const line = el('tspan', { x: b.x + b.w / 2, y: b.y + LPAD + LINE * (n + 0.5), 'dominant-baseline': 'central' });
      line.textContent = ev;
      text.append(line);
    });
    g.append(text);
    svg.append(g);
  }

  // The drawing's extent: states, labels and arcs, whichever reach furthest.
  const all = [...stateBoxes, ...placed.map((l) => l.box), ...lines.map((p) => ({ x: p.x, y: p.y, w: 0, h: 0 }))];
  const x0 = Math.min(...all.map((b) => b.x)) - MARGIN, y0 = Math.min(...all.map((b) => b.y)) - MARGIN;
  const width = Math.max(...all.map((b) => b.x + b.w)) + MARGIN - x0, height = Math.max(...all.map((b) => b.y + b.h)) + MARGIN - y0;
  svg.setAttribute('viewBox', `${x0} ${y0} ${width} ${height}`);
  svg.setAttribute('width', String(Math.ceil(width)));
  svg.setAttribute('height', String(Math.ceil(height)));

  // A panel narrower than the drawing scrolls it: to the current state when that is new, else back where the reader left it.
  const now = `${a.id}>${current}`;
  box.scrollLeft = shown.get(box) === now ? scrolled : centre(Math.max(0, index(current))) - x0 - box.clientWidth / 2;
  shown.set(box, now);
}

// Draws an actor's state machine for the Hubbub inspector: every state in a
// row, the current one highlighted, each transition an arrow labelled with its
// events. The machine comes from the `actor` reply (docs/debug.md), read from
// the xstate definition on the broker, so a new state shows up here by itself.

const SVG = 'http://www.w3.org/2000/svg';

/** The actor's machine: every state in a row, the current one highlighted, transitions as arrows. */
export function drawMachine(box, a) {
  const machine = a.machine ?? { states: [String(a.state)], transitions: [], final: [] };
  const current = typeof a.state === 'string' ? a.state : Object.keys(a.state ?? {})[0];
  const W = 104, H = 32, GAP = 84, TOP = 64;
  const width = machine.states.length * (W + GAP) - GAP + 20;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${2 * TOP + H}`);
  svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b6b7d"/></marker></defs>';
  const x = (name) => 10 + machine.states.indexOf(name) * (W + GAP);
  const edges = new Map();
  for (const t of machine.transitions) {
    const k = `${t.from}>${t.to}`;
    edges.set(k, [...(edges.get(k) ?? []), t.event]);
  }
  let flip = false;
  for (const [k, events] of edges) {
    const [from, to] = k.split('>');
    const i = machine.states.indexOf(from), j = machine.states.indexOf(to);
    if (i < 0 || j < 0) continue;
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('class', 'edge');
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('class', 'edge-label');
    label.setAttribute('text-anchor', 'middle');
    if (Math.abs(j - i) === 1) {
      // Between neighbours there is little room: one event per line, stacked above the arrow.
      const x1 = x(from) + W, x2 = x(to), y = TOP + H / 2;
      path.setAttribute('d', `M${x1},${y} L${x2 - 2},${y}`);
      events.forEach((ev, n) => {
        const line = document.createElementNS(SVG, 'tspan');
        line.setAttribute('x', String((x1 + x2) / 2));
        line.setAttribute('y', String(y - 5 - (events.length - 1 - n) * 11));
        line.textContent = ev;
        label.append(line);
      });
    } else {
      label.textContent = events.join(' / ');
      const above = (flip = !flip);
      const y0 = above ? TOP : TOP + H;
      const lift = 22 * Math.abs(j - i);
      const x1 = x(from) + W / 2, x2 = x(to) + W / 2 - 6;
      const cy = above ? y0 - lift : y0 + lift;
      path.setAttribute('d', `M${x1},${y0} C${x1},${cy} ${x2},${cy} ${x2},${y0 + (above ? -2 : 2)}`);
      label.setAttribute('x', String((x1 + x2) / 2));
      label.setAttribute('y', String(above ? cy + 12 : cy - 3));
    }
    svg.append(path, label);
  }
  for (const name of machine.states) {
    const g = document.createElementNS(SVG, 'g');
    g.setAttribute('class', `state${name === current ? ' current' : ''}`);
    g.dataset.state = name;
    const rect = document.createElementNS(SVG, 'rect');
    for (const [k, v] of Object.entries({ x: x(name), y: TOP, width: W, height: H, rx: machine.final.includes(name) ? 4 : 14 })) rect.setAttribute(k, String(v));
    const text = document.createElementNS(SVG, 'text');
    text.setAttribute('x', String(x(name) + W / 2));
    text.setAttribute('y', String(TOP + H / 2 + 4));
    text.setAttribute('text-anchor', 'middle');
    text.textContent = name;
    g.append(rect, text);
    svg.append(g);
  }
  box.replaceChildren(svg);
}

// Reads what the bench's --profile and --heap-snapshot runs wrote, and prints
// what the lead engineer needs to act on:
//
//   node dist/bench/analyze/profile.js cpu <file.cpuprofile> [top]
//     self time per function (and its share), then inclusive time of the
//     heaviest Hubbub frames;
//   node dist/bench/analyze/profile.js heap <at-N.heapsnapshot> <N> [<at-0.heapsnapshot>] [top]
//     retained-by-type bytes per connection: self size summed by constructor
//     (Chrome DevTools' "Constructor" column), minus the empty server's.
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(f: CallFrame): string {
  const url = f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:');
  return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
}

function cpu(path: string, top: number): void {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const self = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; charge it to sample i-1's frame.
  for (let i = 1; i < p.samples.length; i++) self.set(p.samples[i - 1], (self.get(p.samples[i - 1]) ?? 0) + p.timeDeltas[i]);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const total = (p.endTime - p.startTime) || 1;
  const selfBy = new Map<string, number>();
  for (const [id, us] of self) {
    const key = where(byId.get(id)!.callFrame);
    selfBy.set(key, (selfBy.get(key) ?? 0) + us);
  }
  // Inclusive time: a node's self plus its subtree's, summed per frame (recursion counted once per path).
  const incl = new Map<number, number>();
  const visit = (id: number): number => {
    const n = byId.get(id)!;
    let t = self.get(id) ?? 0;
    for (const c of n.children ?? []) t += visit(c);
    incl.set(id, t);
    return t;
  };
  visit(p.nodes[0].id);
  const inclBy = new Map<string, number>();
  for (const [id, us] of incl) {
    const f = byId.get(id)!.callFrame;
    if (!f.url.includes('/dist/src/') && !f.url.includes('/node_modules/ws/')) continue;
    const key = where(f);
    inclBy.set(key, Math.max(inclBy.get(key) ?? 0, us));
  }
  const idle = [...selfBy].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0);
  console.log(`${path}: ${(total / 1e6).toFixed(1)} s profiled, ${((1 - idle / total) * 100).toFixed(1)}% busy`);
  console.log('\nself time (top):');
  for (const [k, us] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  }
  console.log('\ninclusive time of Hubbub and ws frames (top):');
  for (const [k, us] of [...inclBy].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
  }
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function heapByType(path: string): Map<string, { count: number; bytes: number }> {
  const h = JSON.parse(readFileSync(path, 'utf8')) as HeapSnapshot;
  const fields = h.snapshot.meta.node_fields;
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const types = h.snapshot.meta.node_types[0];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < h.nodes.length; i += width) {
    const type = types[h.nodes[i + iType]];
    const name = h.strings[h.nodes[i + iName]];
    let key: string;
    if (type === 'object' || type === 'native') key = name;
    else if (type === 'closure') key = `(closure) ${name || '(anonymous)'}`;
    else if (type === 'hidden' || type === 'code' || type === 'object shape') key = `(${type}) ${name.slice(0, 40)}`;
    else key = `(${type})`;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += h.nodes[i + iSize];
    out.set(key, e);
  }
  return out;
}

function heap(path: string, n: number, basePath: string | undefined, top: number): void {
  const at = heapByType(path);
  const base = basePath === undefined ? new Map<string, { count: number; bytes: number }>() : heapByType(basePath);
  const rows = [...at].map(([k, v]) => {
    const b = base.get(k) ?? { count: 0, bytes: 0 };
    return { k, count: (v.count - b.count) / n, bytes: (v.bytes - b.bytes) / n };
  });
  const sum = rows.reduce((s, r) => s + r.bytes, 0);
  console.log(`${path}${basePath ? ` minus ${basePath}` : ''}, per connection (N=${n}): ${sum.toFixed(0)} B of JS heap self sizes`);
  console.log('   B/conn  objs/conn  constructor');
  for (const r of rows.sort((a, b) => b.bytes - a.bytes).slice(0, top)) {
    console.log(`  ${r.bytes.toFixed(0).padStart(7)}  ${r.count.toFixed(2).padStart(9)}  ${r.k}`);
  }
}

const [mode, file, ...rest] = process.argv.slice(2);
if (mode === 'cpu' && file) cpu(file, Number(rest[0] ?? 30));
else if (mode === 'heap' && file && rest[0]) heap(file, Number(rest[0]), rest[1], Number(rest[2] ?? 30));
else {
  console.error('usage: profile.js cpu <file.cpuprofile> [top] | heap <at-N.heapsnapshot> <N> [<at-0.heapsnapshot>] [top]');
  process.exit(2);
}

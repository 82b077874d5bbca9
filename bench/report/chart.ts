// The chart: one self-contained HTML page of inline SVG (no script, no CDN):
// RSS per idle connection against N, and fan-out latency percentiles against
// the delivered rate, for each system. Fan-out curves are those of the run
// whose maximum delivered rate is the median one.
import type { SystemId } from '../systems.js';
import { median } from '../scenarios/common.js';
import type { BenchConfig } from '../config.js';
import type { RunResult, SummaryRow } from './summary.js';

const COLORS: Record<SystemId, string> = {
  hubbub: '#d62728', 'hubbub-batch': '#ff7f0e', 'ws-hub': '#1f77b4', socketio: '#2ca02c', gorilla: '#9467bd',
};

interface Series {
  name: string;
  color: string;
  dash?: boolean;
  points: [number, number][];
}

interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog: boolean;
  yLog: boolean;
  series: Series[];
}

const W = 640;
const H = 380;
const M = { l: 70, r: 150, t: 36, b: 48 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
    return out;
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const nice = [1, 2, 5, 10].map((k) => k * step).find((s) => (hi - lo) / s <= 6) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.floor(lo / nice) * nice; v <= hi + 1e-9; v += nice) out.push(v);
  return out;
}

function label(v: number): string {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return String(Math.round(v * 1000) / 1000);
}

export function lineChart(spec: ChartSpec): string {
  const pts = spec.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.xLog || x > 0) && (!spec.yLog || y > 0));
  if (pts.length === 0) return `<p>${esc(spec.title)}: no data</p>`;
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (spec.xLog) [x0, x1] = [10 ** Math.floor(Math.log10(x0)), 10 ** Math.ceil(Math.log10(x1))];
  else [x0, x1] = [0, x1 * 1.05];
  if (spec.yLog) [y0, y1] = [10 ** Math.floor(Math.log10(y0)), 10 ** Math.ceil(Math.log10(y1))];
  else [y0, y1] = [0, y1 * 1.1];
  const sx = (x: number): number => M.l + (W - M.l - M.r) * (spec.xLog ? Math.log10(x / x0) / Math.log10(x1 / x0) : (x - x0) / (x1 - x0 || 1));
  const sy = (y: number): number => H - M.b - (H - M.t - M.b) * (spec.yLog ? Math.log10(y / y0) / Math.log10(y1 / y0) : (y - y0) / (y1 - y0 || 1));
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(spec.title)}</text>`);
  for (const t of ticks(x0, x1, spec.xLog)) {
    parts.push(`<line x1="${sx(t)}" y1="${M.t}" x2="${sx(t)}" y2="${H - M.b}" stroke="#eee"/><text x="${sx(t)}" y="${H - M.b + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of ticks(y0, y1, spec.yLog)) {
    parts.push(`<line x1="${M.l}" y1="${sy(t)}" x2="${W - M.r}" y2="${sy(t)}" stroke="#eee"/><text x="${M.l - 6}" y="${sy(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  parts.push(`<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const ok = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.xLog || x > 0) && (!spec.yLog || y > 0));
    if (ok.length > 0) {
      const d = ok.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ' stroke-dasharray="5,4"' : ''}/>`);
      for (const [x, y] of ok) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    const ly = M.t + 10 + i * 18;
    parts.push(`<line x1="${W - M.r + 10}" y1="${ly}" x2="${W - M.r + 34}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ' stroke-dasharray="5,4"' : ''}/><text x="${W - M.r + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">${parts.join('')}</svg>`;
}

export function renderChart(cfg: BenchConfig, runs: RunResult[], systems: SystemId[], rows: SummaryRow[], title: string, table: string): string {
  const charts: string[] = [];
  const idleSystems = systems.filter((s) => s !== 'hubbub-batch');
  charts.push(lineChart({
    title: 'Idle: RSS per connection vs N (median of runs)', xLabel: 'connections (N)', yLabel: 'bytes per connection',
    xLog: false, yLog: false,
    series: idleSystems.map((s) => ({
      name: s, color: COLORS[s],
      points: cfg.idle.ns.map((n) => [n, median(runs.map((r) => r.idle?.[s]?.points.find((p) => p.n === n)?.rssPerConn ?? NaN))] as [number, number]),
    })),
  }));
  for (const { members } of cfg.fanout.rooms) {
    const series: Series[] = [];
    for (const s of systems) {
      const candidates = runs.map((r) => r.fanout?.[String(members)]?.[s]).filter((f) => f !== undefined);
      if (candidates.length === 0) continue;
      const mid = median(candidates.map((f) => f!.maxDelivered));
      const pick = candidates.reduce((a, b) => (Math.abs(b!.maxDelivered - mid) < Math.abs(a!.maxDelivered - mid) ? b : a))!;
      series.push({ name: `${s} p50`, color: COLORS[s], dash: true, points: pick.steps.map((st) => [st.offered, st.p50]) });
      series.push({ name: `${s} p99`, color: COLORS[s], points: pick.steps.map((st) => [st.offered, st.p99]) });
    }
    charts.push(lineChart({
      title: `Fan-out, room of ${members}: latency vs offered rate`, xLabel: 'offered deliveries/s (send rate x members)',
      yLabel: 'end-to-end latency, ms', xLog: true, yLog: true, series,
    }));
  }
  const maxRows = rows.filter((r) => r.label.startsWith('max delivered'));
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222} pre{font-size:12px;background:#f6f6f6;padding:12px;overflow:auto} svg{margin:8px 8px 8px 0;border:1px solid #ddd}</style>
</head><body><h1>${esc(title)}</h1>
${charts.join('\n')}
<h2>Maximum delivered messages/s</h2><ul>${maxRows.map((r) => `<li>${esc(r.label)}: ${Object.entries(r.medians).map(([s, v]) => `${esc(s)} ${Math.round(v!)}`).join(', ')}</li>`).join('')}</ul>
<h2>Summary table</h2><pre>${esc(table)}</pre>
</body></html>\n`;
}

// The terminal table: one row per metric, the median of each system, then
// Hubbub's ratio to each baseline of the same runs.
import type { SystemId } from '../systems.js';
import { BASELINES, SUBJECTS, type MicroSummary, type ScaleOutSummary, type ScaleSummary, type SummaryRow } from './summary.js';

const SHORT: Record<SystemId, string> = {
  hubbub: 'hubbub', 'hubbub-batch': 'hub-batch', 'ws-hub': 'ws-hub', socketio: 'socketio', gorilla: 'gorilla',
};

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

export function renderTable(rows: SummaryRow[], systems: SystemId[], micro: MicroSummary | null, scaleOut: ScaleOutSummary | null = null, scale: ScaleSummary | null = null): string {
  const ratioCols: string[] = [];
  for (const s of SUBJECTS.filter((x) => systems.includes(x))) {
    for (const b of BASELINES.filter((x) => systems.includes(x))) ratioCols.push(`${s}/${b}`);
  }
  const ratioHead = (c: string): string => {
    const [s, b] = c.split('/');
    return `${s === 'hubbub' ? 'H' : 'Hb'}/${SHORT[b as SystemId].slice(0, 5)}`;
  };
  const head = ['metric'.padEnd(30), 'unit'.padEnd(7), ...systems.map((s) => SHORT[s].padStart(10)), ...ratioCols.map((c) => ratioHead(c).padStart(9))];
  const lines = [head.join(' '), '-'.repeat(head.join(' ').length)];
  let scenario = '';
  for (const r of rows) {
    if (r.scenario !== scenario && scenario !== '') lines.push('');
    scenario = r.scenario;
    lines.push([
      r.label.padEnd(30), r.unit.padEnd(7),
      ...systems.map((s) => fmt(r.medians[s]).padStart(10)),
      ...ratioCols.map((c) => (r.ratios[c] === undefined ? '-' : `${r.ratios[c]}x`).padStart(9)),
    ].join(' '));
  }
  lines.push('', 'H = hubbub, Hb = hubbub with ?batch=1; ratios are medians of per-run ratios (hubbub ÷ baseline);');
  lines.push('for msg/s, frame/s and conn/s higher is better, for B, %, ms and failures lower is better.');
  if (micro !== null) {
    lines.push('', 'scheduler micro-benchmark (medians):');
    lines.push(`  actor messages/s, batched from outside : ${fmt(micro.batchedMsgsPerSec)}`);
    lines.push(`  actor messages/s, ping-pong (runnext)  : ${fmt(micro.pingPongMsgsPerSec)}`);
    lines.push(`  direct calls/s                         : ${fmt(micro.directCallsPerSec)} (${micro.directOverScheduler}x the batched path)`);
    lines.push(`  heap per idle actor                    : ${micro.bytesPerIdleActor} B (ConnectionActor: ${micro.bytesPerConnectionActor} B)`);
    lines.push(`  joins/s into one room, first -> last   : ${fmt(micro.joinsPerSecFirstChunk)} -> ${fmt(micro.joinsPerSecLastChunk)} (flatness ${micro.flatness})`);
  }
  if (scaleOut !== null) {
    lines.push('', `scale-out: fan-out to one room of ${scaleOut.members} (LeanSocket members${scaleOut.batch ? ' in batch mode' : ''}, few senders), best step, medians of ${scaleOut.runs} run(s):`);
    for (const l of scaleOut.layouts) {
      lines.push(`  ${l.label.padEnd(20)}: ${fmt(l.delivered).padStart(7)} msg/s, ${fmt(l.frames).padStart(7)} frames/s, p99 ${fmt(l.p99)} ms, server CPU ${l.serverCpu}% (all processes), gen ${l.genCpu}%`);
    }
    lines.push(`  --workers 2 / one process: ${scaleOut.ratio}x; --workers 2 / --workers 1: ${scaleOut.ratioW1}x (medians of per-run ratios)`);
  }
  const i = scale?.idle100k;
  if (i != null) {
    lines.push('', `idle across workers: ${fmt(i.conns)} connections over --workers ${i.workers} (median of ${i.runs}):`);
    lines.push(`  RSS/conn ${i.rssPerConn} B, heap/conn ${i.heapPerConn} B (all processes, after a full GC in each), idle CPU ${i.cpu}% of one core (all processes, heartbeats on), connected at ${fmt(i.connectPerSec)}/s`);
  }
  const st = scale?.storm50k;
  if (st != null) {
    lines.push('', `storm across workers: ${fmt(st.conns)} connections held open over --workers ${st.workers} (median of ${st.runs}):`);
    lines.push(`  accepted ${fmt(st.acceptedPerSec)} conn/s, failures ${st.failed}, open at the end ${fmt(st.open)}, connect p99 ${fmt(st.connectP99)} ms`);
  }
  return lines.join('\n');
}

/**
 * Every bar the issue sets, by bench, so that the runner's summary can name each one whether it
 * was met, missed, or not measured (a bench that failed, a peer that is missing, a bench not run).
 * Benches report their bar rows under these exact names (see `barRow` in results.ts).
 */
export type Op = '<=' | '<';

export interface BarSpec {
  name: string;
  unit: string;
  op: Op;
  limit: number;
  /** How the bar reads in a table, e.g. "≤ 0.5× blackbox_exporter". */
  text: string;
}

const le = (name: string, unit: string, limit: number, text: string): BarSpec => ({ name, unit, op: '<=', limit, text });
const lt = (name: string, unit: string, limit: number, text: string): BarSpec => ({ name, unit, op: '<', limit, text });

/** The http bench measures at these probe rates (PRODROME_BENCH_RATE=N runs one). */
export const HTTP_RATES = [200, 1000];

export const BARS: Record<string, BarSpec[]> = {
  http: HTTP_RATES.flatMap((rate) =>
    (['http', 'tcp'] as const).flatMap((family) => [
      le(`${family} pipeline CPU/probe vs blackbox_exporter @ ${rate}/s`, '×', 0.5, `≤ 0.5× blackbox_exporter ${family === 'http' ? 'http_2xx' : 'tcp_connect'}`),
      le(`${family} pipeline CPU/probe vs plain node floor @ ${rate}/s`, '×', 1.2, `≤ 1.2× plain ${family === 'http' ? 'node:http' : 'net.connect'} loop`),
    ]),
  ),
  icmp: [
    le('icmp 5,000 hosts: wall per cycle', 's', 10, '≤ 10 s'),
    le('icmp 5,000 hosts: CPU vs fping alone', '×', 1.5, '≤ 1.5× fping alone'),
  ],
  idle: [],
  history: [],
  scale: [
    lt('scale 10,000 checks @ 30 s: daemon CPU', '% of one core', 25, '< 25 % of one core'),
    le('scale 10,000 checks @ 30 s: daemon RSS (max)', 'MB', 250, '≤ 250 MB'),
    lt('scale 10,000 checks @ 30 s: scheduling lag p99', 's', 1, '< 1 s'),
  ],
  'ticket-load': [le('ticket-load 1,000 incidents: confirmed → ticket at receiver p99', 's', 1, '≤ 1 s')],
  footprint: [
    le('footprint: idle RSS, 1,000 checks', 'MB', 120, '≤ 120 MB'),
    le('footprint: GET /metrics at 10,000 checks (median of 5)', 'ms', 300, '≤ 300 ms'),
    le('footprint: GET /api/checks, 16,384 targets (median of 5)', 'ms', 100, '≤ 100 ms'),
    le('footprint: validate 10,000 checks (median of 3)', 's', 2, '≤ 2 s'),
  ],
  'crash-recovery': [le('crash-recovery: restart → interrupted ticket delivered', 's', 10, '≤ 10 s')],
  snmp: [le('snmp CPU per get vs snmp_exporter @ 200/s', '×', 1, '≤ 1× snmp_exporter (CPU per get, same agent, same OIDs)')],
  'servicenow-oauth': [le('servicenow-oauth: outage cycles whose ticket was lost (30-min tokens, ≥ 75 min)', 'tickets', 0, '0')],
  agents: [le('agents: takeover after SIGKILL ÷ (2 intervals + TTL)', '×', 1, '≤ 2 intervals + the 10 s TTL (70 s at 30 s)')],
  prometheus: [
    le('prometheus: checks sharing their p50 with another', 'checks', 0, 'none: each check its own p50'),
    le('prometheus: |panel 7 new problems − incidents opened|', 'problems', 0, 'equal'),
    le('prometheus: flapping bars without a flapped target', 'points', 0, 'none'),
    le('prometheus: unhealthy rules', 'rules', 0, 'none'),
  ],
};

export function barSpec(bench: string, name: string): BarSpec {
  const spec = BARS[bench]?.find((b) => b.name === name);
  if (!spec) throw new Error(`no bar "${name}" for bench ${bench} in bench/lib/bars.ts`);
  return spec;
}

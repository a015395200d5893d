/**
 * A `pass_persist` program for the real snmpd (snmpd.conf(5)): serves the OIDs of a JSON file
 * (`{ "1.3.6.1.2.1.2.2.1.8.1": ["integer", 1], … }`) and reads the file again whenever it changed,
 * so a test changes what the agent answers by rewriting it. Run by snmpd as
 * `node snmp-pass-persist.js <file>`. An entry `"endless": ["column", "<OID>"]` makes that column a
 * table that never ends (every GETNEXT in it answers the next index), for walks that must stop. Protocol: PING → PONG; get/getnext + OID → OID, TYPE, VALUE
 * or NONE; set + OID + "TYPE VALUE" → not-writable.
 */
import { readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';

const file = process.argv[2]!;
let stamp = '';
let sorted: string[] = [];
let values = new Map<string, [string, string | number]>();
let endless: string | undefined;

function compare(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function load(): void {
  let st;
  try {
    st = statSync(file, { bigint: true });
  } catch {
    return;
  }
  const now = `${st.mtimeNs}:${st.size}:${st.ino}`;
  if (now === stamp) return;
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, [string, string | number]>;
    const { endless: e, ...rest } = data;
    endless = typeof e?.[1] === 'string' ? e[1] : undefined;
    values = new Map(Object.entries(rest).map(([oid, v]) => [oid.replace(/^\./, ''), v]));
    sorted = [...values.keys()].sort(compare);
    stamp = now;
  } catch {
    // mid-write: keep the last good answer, read again on the next request
  }
}

/** The first OID after `oid`, by binary search (a 48-port table is walked hundreds of times a test). */
function after(oid: string): string | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compare(sorted[mid]!, oid) > 0) hi = mid;
    else lo = mid + 1;
  }
  return sorted[lo];
}

const out = (line: string) => process.stdout.write(`${line}\n`);
function answer(oid: string | undefined): void {
  const v = oid === undefined ? undefined : values.get(oid);
  if (!oid || !v) {
    out('NONE');
    return;
  }
  out(`.${oid}`);
  out(v[0]);
  out(String(v[1]));
}

const pending: string[] = [];
createInterface({ input: process.stdin }).on('line', (line) => {
  pending.push(line.trim());
  for (;;) {
    const cmd = pending[0];
    if (cmd === undefined) return;
    if (cmd === 'PING') {
      pending.shift();
      out('PONG');
    } else if (cmd === 'get' || cmd === 'getnext') {
      if (pending.length < 2) return;
      pending.shift();
      const oid = pending.shift()!.replace(/^\./, '');
      load();
      if (cmd === 'getnext' && endless !== undefined && (oid === endless || oid.startsWith(`${endless}.`))) {
        const index = oid === endless ? 0 : Number(oid.slice(endless.length + 1).split('.')[0]);
        out(`.${endless}.${index + 1}`);
        out('integer');
        out(String(index + 1));
        continue;
      }
      answer(cmd === 'get' ? (values.has(oid) ? oid : undefined) : after(oid));
    } else if (cmd === 'set') {
      if (pending.length < 3) return;
      pending.splice(0, 3);
      out('not-writable');
    } else pending.shift();
  }
});

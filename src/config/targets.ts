import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import type { CheckConfig } from './types.js';

/** A check may expand to at most this many targets: a /16 is a whole campus, beyond that is a typo. */
export const MAX_TARGETS_PER_CHECK = 65_536;

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}
function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** `10.20.0.0/22` → its host addresses (network and broadcast left out below /31). */
export function expandCidr(cidr: string): string[] {
  const [ip, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!ip || !isIPv4(ip) || !Number.isInteger(bits) || bits < 8 || bits > 32) {
    throw new Error(`"${cidr}" is not an IPv4 CIDR range between /8 and /32`);
  }
  const size = 2 ** (32 - bits);
  if (size > MAX_TARGETS_PER_CHECK + 2) throw new Error(`"${cidr}" holds ${size} addresses; at most ${MAX_TARGETS_PER_CHECK} per check`);
  const base = ipv4ToInt(ip) - (ipv4ToInt(ip) % size);
  const out: string[] = [];
  const [first, last] = size <= 2 ? [base, base + size - 1] : [base + 1, base + size - 2];
  for (let n = first; n <= last; n++) out.push(intToIpv4(n));
  return out;
}

/**
 * Expands a check's `target`/`targets` entries: plain targets, CIDR ranges and `file:/path`
 * lists (one target a line, `#` comments). Duplicates keep their first place.
 */
export function expandTargets(entries: readonly string[]): string[] {
  const out = new Set<string>();
  const add = (t: string) => {
    out.add(t);
    if (out.size > MAX_TARGETS_PER_CHECK) throw new Error(`more than ${MAX_TARGETS_PER_CHECK} targets`);
  };
  for (const entry of entries) {
    if (entry.startsWith('file:')) {
      const path = entry.slice(5);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        throw new Error(`cannot read target list ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
      for (const line of text.split('\n')) {
        const t = line.replace(/#.*/, '').trim();
        if (t) (/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(t) ? expandCidr(t) : [t]).forEach(add);
      }
    } else if (/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(entry)) {
      expandCidr(entry).forEach(add);
    } else {
      add(entry);
    }
  }
  return [...out];
}

/** Whether `target` is one of the check's: a configured one, or a row a run found under one. */
export function isTargetOf(check: Pick<CheckConfig, 'targets' | 'rowTargets'>, target: string): boolean {
  if (check.targets.includes(target)) return true;
  // A row's target is `<target>/<row>` (rowTarget() in messages/keys.ts).
  return check.rowTargets === true && check.targets.some((t) => target.length > t.length + 1 && target.startsWith(`${t}/`));
}

/**
 * The targets of a check to list (API, status pages): the configured ones, then the rows its runs
 * found, taken from `found` (the targets that have a state), in natural order ("port 2" before "port 10").
 */
export function listedTargets(check: Pick<CheckConfig, 'targets' | 'rowTargets'>, found: Iterable<string>): string[] {
  if (!check.rowTargets) return check.targets;
  const rows = [...found].filter((t) => !check.targets.includes(t) && isTargetOf(check, t));
  return rows.length ? [...check.targets, ...rows.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))] : check.targets;
}

/**
 * Peers measured in the same run (fping, blackbox_exporter): found on the machine, or installed
 * from Debian when missing — only when running as root and BENCH_INSTALL is not 0. A peer that
 * cannot be had is reported as such in its row; nothing else is fetched.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Peer {
  path?: string;
  /** Why it is not there ("not installed", "apt-get install failed: …"). */
  missing?: string;
}

const tried = new Map<string, Peer>();

/** The first of `paths` that exists, after an install of `debianPackage` if none does. */
export function ensurePeer(debianPackage: string, paths: string[]): Peer {
  const found = () => paths.find((p) => existsSync(p));
  const have = found();
  if (have) return { path: have };
  const before = tried.get(debianPackage);
  if (before) return before;
  let peer: Peer;
  if (process.env.BENCH_INSTALL === '0') peer = { missing: `not installed (${debianPackage}; BENCH_INSTALL=0)` };
  else if (process.getuid?.() !== 0) peer = { missing: `not installed (apt-get install ${debianPackage} as root)` };
  else {
    console.log(`(installing ${debianPackage} from Debian: apt-get install -y ${debianPackage})`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', debianPackage], { env, encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) {
      // Package lists may be missing or stale on a fresh machine: refresh once and retry.
      spawnSync('apt-get', ['update'], { env, encoding: 'utf8', timeout: 300_000 });
      r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', debianPackage], { env, encoding: 'utf8', timeout: 300_000 });
    }
    const now = found();
    peer = now ? { path: now } : { missing: `not installed (apt-get install ${debianPackage} failed: ${(r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n').pop()})` };
  }
  tried.set(debianPackage, peer);
  return peer;
}

/** A peer process a bench started and measures (blackbox_exporter, snmp_exporter). */
export interface RunningPeer {
  pid: number;
  port: number;
  version: string;
  stop(): Promise<void>;
}

import { execFile } from 'node:child_process';
import { locateFping } from './icmp-fping.js';

/*
 * Whether this process can send ICMP echo requests at all, found out once per engine binary by an
 * echo to 127.0.0.1 (which always answers): a machine or container that cannot ping says so at
 * `validate` and at start (/readyz), instead of every icmp target failing on every run. What was
 * seen (Debian's fping 5.1 and iputils ping, which carry the cap_net_raw file capability):
 * - the capability not allowed to the process (Docker --cap-drop NET_RAW or ALL): exec of the
 *   binary fails, `spawn EPERM`;
 * - the binary run without it (a copy without the file capability, a non-root user): fping falls
 *   back to an unprivileged ICMP socket where net.ipv4.ping_group_range allows one (Docker sets it
 *   wide open), and there fping 5.1 never matches a reply: every echo "times out", 127.0.0.1 too;
 *   where the range does not allow it, fping exits 4 ("can't create socket").
 */

const LOOPBACK = '127.0.0.1';
const FIX = 'ICMP needs the NET_RAW capability: in a container keep it (Docker grants it by default: no --cap-drop NET_RAW or ALL, or --cap-add NET_RAW), under systemd AmbientCapabilities=CAP_NET_RAW';
/** The system ping (iputils) reads replies on unprivileged ICMP sockets, where fping 5.1 does not. */
const OR_PING = 'or set engine: ping on the icmp checks, where net.ipv4.ping_group_range allows unprivileged ICMP sockets (Docker sets it so)';

export interface IcmpEngineChoice {
  engine: 'auto' | 'fping' | 'ping';
  fpingPath?: string;
}

const tried = new Map<string, Promise<string | undefined>>();

/** Why this process cannot send echo requests with the engine the check would use, or undefined when it can. Tried once per binary. */
export async function icmpSelfTest(options: IcmpEngineChoice): Promise<string | undefined> {
  if (options.engine !== 'ping') {
    const fping = await locateFping(options.fpingPath);
    if (fping) return once(`fping ${fping}`, () => tryFping(fping));
    if (options.engine === 'fping') return `fping not found${options.fpingPath ? ` at ${options.fpingPath}` : ''}: install the fping package or set fpingPath`;
  }
  return once('ping', tryPing);
}

function once(key: string, attempt: () => Promise<string | undefined>): Promise<string | undefined> {
  let result = tried.get(key);
  if (!result) tried.set(key, (result = attempt()));
  return result;
}

interface Ran {
  code: number | string | null;
  stderr: string;
}

function run(binary: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    try {
      execFile(binary, args, { timeout: 5_000, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } }, (err, _stdout, stderr) => {
        resolve({ code: err ? ((err as NodeJS.ErrnoException).code ?? (err as { status?: number }).status ?? 'failed') : 0, stderr: String(stderr) });
      });
    } catch (err) {
      // Node throws spawn EPERM at once rather than through the callback.
      resolve({ code: (err as NodeJS.ErrnoException).code ?? 'failed', stderr: '' });
    }
  });
}

function said(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 3);
  return lines.length ? ` ("${lines.join('; ').slice(0, 240)}")` : '';
}

/** The self-test's fping arguments: one echo request to 127.0.0.1 (test fakes of fping answer it as a capable host would). */
export const FPING_SELF_TEST_ARGS: readonly string[] = ['-c', '1', '-t', '1000', LOOPBACK];

async function tryFping(fping: string): Promise<string | undefined> {
  const { code, stderr } = await run(fping, [...FPING_SELF_TEST_ARGS]);
  if (code === 0) return undefined;
  if (code === 'EPERM' || code === 'EACCES') return `cannot run ${fping} (spawn ${code}): this process may not have the cap_net_raw capability the binary carries. ${FIX}`;
  if (code === 4 || /can't create socket/.test(stderr)) return `${fping} cannot open an ICMP socket${said(stderr)}. ${FIX}`;
  if (code === 1) return `${fping} got no echo reply from ${LOOPBACK}, which always answers: without cap_net_raw it falls back to an unprivileged ICMP socket (as under Docker's no-new-privileges), on which it never matches a reply. ${FIX}; ${OR_PING}`;
  return `${fping} -c 1 ${LOOPBACK} failed (exit ${code})${said(stderr)}`;
}

async function tryPing(): Promise<string | undefined> {
  const { code, stderr } = await run('ping', ['-c', '1', '-W', '1', LOOPBACK]);
  if (code === 0) return undefined;
  if (code === 'ENOENT') return 'neither fping nor ping is installed: install the fping package';
  if (code === 'EPERM' || code === 'EACCES') return `cannot run ping (spawn ${code}): this process may not have the cap_net_raw capability the binary carries. ${FIX}`;
  return `ping -c 1 ${LOOPBACK} failed (exit ${code})${said(stderr)}. ${FIX}; or allow unprivileged ICMP sockets for the daemon's group (sysctl net.ipv4.ping_group_range)`;
}

import { spawnSync } from 'node:child_process';
import { watch } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FPING_SELF_TEST_ARGS } from '../../src/probes/icmp-capability.js';

/**
 * A stand-in for fping: a shell script in a temp dir that records its argv, stdin and pid, writes a
 * given text to stderr (fping's `-C` report goes there) and exits with a given code, or hangs.
 * It lets tests show lost packets and unreachable hosts without sending a packet anywhere.
 */
export interface FakeFping {
  path: string;
  /** The argv the fake was started with. */
  args(): Promise<string[]>;
  /** The target list it read on stdin. */
  stdin(): Promise<string[]>;
  /** Resolves with the fake's pid once it has read its stdin (a hanging fake is then asleep). */
  started(): Promise<number>;
  remove(): Promise<void>;
}

export interface FakeFpingOptions {
  /** What the fake writes to stderr, as fping would after its run. */
  stderr?: string;
  exitCode?: number;
  /** Never exit: `exec sleep`, so the pid stays the script's and a kill reaches it. */
  hang?: boolean;
}

/**
 * The daemon's start-up self-test (one echo to 127.0.0.1, src/probes/icmp-capability.ts) is
 * answered as on a machine that can ping: these fakes stand for dead targets, not for a daemon
 * without ICMP (test/probes/icmp-capability.test.ts covers that). Its output is fping 5.1's for
 * an answering loopback.
 */
const SELF_TEST_ANSWER = `if [ "$*" = "${FPING_SELF_TEST_ARGS.join(' ')}" ]; then echo "127.0.0.1 : [0], 64 bytes, 0.04 ms (0.04 avg, 0% loss)"; echo >&2; echo "127.0.0.1 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.04/0.04/0.04" >&2; exit 0; fi`;

export async function writeFakeFping(options: FakeFpingOptions = {}): Promise<FakeFping> {
  const dir = await mkdtemp(path.join(tmpdir(), 'prodrome-fake-fping-'));
  const file = (name: string) => path.join(dir, name);
  await writeFile(file('stderr.txt'), options.stderr ?? '');
  const script = [
    '#!/bin/sh',
    SELF_TEST_ANSWER,
    `DIR='${dir}'`,
    'printf "%s\\n" "$@" > "$DIR/args"',
    'cat > "$DIR/stdin"',
    // written then renamed, so a watcher never reads a half-written pid
    'echo $$ > "$DIR/pid.tmp" && mv "$DIR/pid.tmp" "$DIR/pid"',
    options.hang ? 'exec sleep 600' : `cat "$DIR/stderr.txt" >&2; exit ${options.exitCode ?? 0}`,
    '',
  ].join('\n');
  await writeFile(file('fping'), script);
  await chmod(file('fping'), 0o755);
  const lines = async (name: string) => (await readFile(file(name), 'utf8')).split('\n').filter(Boolean);
  return {
    path: file('fping'),
    args: () => lines('args'),
    stdin: () => lines('stdin'),
    started: () =>
      new Promise<number>((resolve, reject) => {
        const readPid = () => readFile(file('pid'), 'utf8').then((text) => Number(text.trim()));
        const watcher = watch(dir, (_event, name) => {
          if (name !== 'pid') return;
          watcher.close();
          readPid().then(resolve, reject);
        });
        // it may have started before the watch began
        readPid().then((pid) => {
          watcher.close();
          resolve(pid);
        }, () => {});
      }),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** True while a process with this pid exists (zombies included: they still answer signal 0). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What fping 5.1 writes to stderr in `-C` mode for hosts that answered none of `count` requests, and
 * its exit code 1. Captured from the real fping (`fping -C 3 -t 1000 -p 200 -i 10 -r 0 -B 1 -f -`
 * on 127.77.0.5 and 127.77.0.6, in a network namespace that ignores echo requests): a blank line,
 * then per host its name, " : " and a "-" per request. Names of one length need no padding.
 */
export function fpingDeadOutput(hosts: readonly string[], count: number): { stderr: string; exitCode: number } {
  return { stderr: `\n${hosts.map((h) => `${h} : ${Array(count).fill('-').join(' ')}`).join('\n')}\n`, exitCode: 1 };
}

/**
 * The real fping inside a network namespace of its own (`unshare -rn`, no root needed) whose
 * loopback is up but ignores every echo request (net.ipv4.icmp_echo_ignore_all, per namespace):
 * every target is a host that is silent, as a dead PC or a firewall dropping pings is, and each
 * request waits out its timeout. Undefined, with the reason, where user namespaces, `ip` or fping
 * are not available.
 */
export async function silentNetworkFping(): Promise<{ path: string; remove(): Promise<void> } | { missing: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'prodrome-silent-fping-'));
  const script = path.join(dir, 'fping');
  await writeFile(script, [
    '#!/bin/sh',
    SELF_TEST_ANSWER,
    // exec all the way down: the pid the probe signals is fping's own.
    'exec unshare -rn sh -c \'ip link set lo up && echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_all && exec fping "$@"\' fping "$@"',
    '',
  ].join('\n'));
  await chmod(script, 0o755);
  const tried = spawnSync(script, ['-C', '1', '-t', '50', '-q', '127.0.0.1'], { encoding: 'utf8', timeout: 10_000 });
  if (tried.status !== 1 || !/127\.0\.0\.1 : -/.test(tried.stderr)) {
    await rm(dir, { recursive: true, force: true });
    const why = tried.error ? tried.error.message : (tried.stderr.trim().split('\n')[0] ?? `exit ${tried.status}`);
    return { missing: `unshare -rn, ip and fping for a network namespace that ignores pings (${why})` };
  }
  return { path: script, remove: () => rm(dir, { recursive: true, force: true }) };
}

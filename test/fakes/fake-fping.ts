import { watch } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

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

export async function writeFakeFping(options: FakeFpingOptions = {}): Promise<FakeFping> {
  const dir = await mkdtemp(path.join(tmpdir(), 'prodrome-fake-fping-'));
  const file = (name: string) => path.join(dir, name);
  await writeFile(file('stderr.txt'), options.stderr ?? '');
  const script = [
    '#!/bin/sh',
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

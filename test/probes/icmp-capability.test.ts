import { expect } from 'chai';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { icmpSelfTest } from '../../src/probes/icmp-capability.js';
import { locateFping } from '../../src/probes/icmp-fping.js';
import { CLI, DaemonProcess, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

/*
 * A machine (or container) that may not send ICMP echo requests, made for real: the daemon's
 * process without CAP_NET_RAW in its bounding set, which is what Docker's --cap-drop NET_RAW (or
 * ALL) does, or fping run without its file capability by a non-root user where unprivileged ICMP
 * sockets are allowed (Docker's no-new-privileges with its wide ping_group_range), in a network
 * namespace of its own so the sysctl changes nothing else. Both need root to set up.
 */
const isRoot = process.getuid?.() === 0;
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const CLI_PATH = resolve(CLI);

function run(argv: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((done) => {
    execFile(argv[0]!, argv.slice(1), { env: { ...process.env, PRODROME_CONFIG: '' } }, (err, stdout, stderr) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

/** The CLI as Docker's --cap-drop NET_RAW leaves a process: CAP_NET_RAW out of its bounding set. */
const WITHOUT_NET_RAW = ['setpriv', '--bounding-set', '-net_raw', process.execPath, CLI_PATH];
const withoutNetRaw = (...args: string[]) => [...WITHOUT_NET_RAW, ...args];

describe('icmp checks on a machine that cannot send echo requests', function () {
  this.timeout(60_000);
  let dir: string;
  before(function () {
    if (!isRoot || !has('setpriv')) this.skip(); // setting the restriction up needs root and util-linux's setpriv
    dir = mkdtempSync(join(tmpdir(), 'prodrome-icmp-cap-'));
    chmodSync(dir, 0o755);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  function config(name: string, body: string): string {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, body);
    chmodSync(path, 0o644);
    return path;
  }
  const ICMP = 'checks:\n  - { id: ward5-workstations, type: icmp, engine: fping, count: 1, perPacketTimeout: 100ms, interval: 300ms, timeout: 250ms, targets: [127.0.0.1, 127.0.0.2] }\n  - { id: ward6-workstations, type: icmp, engine: fping, count: 1, perPacketTimeout: 100ms, interval: 300ms, timeout: 250ms, targets: [127.0.0.3] }\n';

  it('can send them here, unrestricted (the premise of the cases below)', async () => {
    expect(await icmpSelfTest({ engine: 'fping' })).to.equal(undefined);
  });

  it('without NET_RAW (spawn EPERM): validate exits 2 naming the checks and what to grant', async () => {
    const r = await run(withoutNetRaw('validate', '-c', config('no-net-raw', ICMP)));
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/^checks\[0\]: cannot run \S*fping \(spawn EPERM\).*NET_RAW.* \(and 1 more: ward6-workstations\)$/m);
    expect(r.stdout).to.equal('');
  });

  it('without NET_RAW: prodrome check says so once and exits 1', async () => {
    const r = await run(withoutNetRaw('check', 'ward5-workstations', '-c', config('no-net-raw-check', ICMP)));
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('ward5-workstations cannot measure on this machine: cannot run').and.to.include('spawn EPERM');
  });

  it('without NET_RAW: the daemon starts, /readyz says why (503), the icmp targets stay unknown with no incident, the other checks run', async () => {
    const port = await freePort();
    const prefix = uniquePrefix('icmpcap');
    const path = config('no-net-raw-start', `redis: { prefix: ${prefix}, url: "${await sharedRedisUrl()}" }\nhttp: { listen: "127.0.0.1:${port}" }\ndefaults: { interval: 300ms, timeout: 250ms, confirm: 1 }\n${ICMP}  - { id: closed-port, type: tcp, target: "127.0.0.1:1" }\n`);
    const daemon = new DaemonProcess(['start', '-c', path], { ...process.env, PRODROME_LOG_LEVEL: 'info' }, WITHOUT_NET_RAW);
    try {
      const said = await daemon.waitForMessage('Checks cannot measure on this machine');
      expect(said.checks).to.deep.equal(['ward5-workstations', 'ward6-workstations']);
      await daemon.waitForMessage('Prodrome started');
      const api = `http://127.0.0.1:${port}`;
      // The tcp check fails and opens its incident: the daemon is working.
      await waitUntil(async () => ((await (await fetch(`${api}/api/incidents`)).json()) as { checkId: string }[]).some((i) => i.checkId === 'closed-port') || undefined, 'the closed-port incident');
      // Three runs of closed-port, on the same 300 ms interval: every icmp unit has had its turn too.
      await waitUntil(async () => Number(/prodrome_probe_duration_seconds_count\{check="closed-port"[^}]*\} (\d+)/.exec(await (await fetch(`${api}/metrics`)).text())?.[1] ?? 0) >= 3 || undefined, 'three runs of closed-port');
      const ready = await fetch(`${api}/readyz`);
      expect(ready.status).to.equal(503);
      expect(await ready.text()).to.include('2 checks (ward5-workstations, ward6-workstations) cannot measure: cannot run').and.to.include('NET_RAW');
      const checks = (await (await fetch(`${api}/api/checks`)).json()) as { id: string; targets: { status: string }[] }[];
      expect(checks.filter((c) => c.id.startsWith('ward')).flatMap((c) => c.targets.map((t) => t.status))).to.deep.equal(['unknown', 'unknown', 'unknown']);
      const incidents = (await (await fetch(`${api}/api/incidents`)).json()) as { checkId: string }[];
      expect(incidents.map((i) => i.checkId)).to.deep.equal(['closed-port']);
    } finally {
      await daemon.kill('SIGTERM');
    }
  });

  it('fping without its capability on an unprivileged ICMP socket (no-new-privileges): no reply even from 127.0.0.1, and validate says so', async function () {
    if (!has('unshare') || !has('ip')) this.skip();
    const fping = await locateFping();
    if (!fping) this.skip();
    const copy = join(dir, 'fping');
    copyFileSync(fping!, copy); // a copy has no file capability
    chmodSync(copy, 0o755);
    const path = config('dgram', ICMP.replace(/engine: fping/g, `engine: fping, fpingPath: ${copy}`));
    const script = 'ip link set lo up && sysctl -qw net.ipv4.ping_group_range="0 2147483647" && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"';
    const r = await run(['unshare', '-n', 'sh', '-c', script, 'sh', process.execPath, CLI_PATH, 'validate', '-c', path]);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.include(`${copy} got no echo reply from 127.0.0.1`).and.to.include('NET_RAW');
  });
});

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { silentLogger } from '../../src/core/logger.js';
import { HeartbeatBook } from '../../src/heartbeats/heartbeat-book.js';
import { buildProbe } from '../../src/probes/build.js';
import { runProbe, unitsFor } from '../../src/scheduler/scheduler.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';
import { parseConfig } from '../helpers/config.js';
import { CLI, waitUntil } from '../helpers/daemon.js';
import { close, listen } from '../helpers/servers.js';

const EXAMPLE = 'config/examples/demo-peers.yaml';
const DEFAULT_BASE = 47800;

interface Peers {
  child: ChildProcess;
  base: number;
  lines: string[];
}

/** `prodrome demo --peers-only` on a port base of its own (the default's six ports may be taken on a shared machine). */
async function startPeers(heartbeatsTo: string): Promise<Peers> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const base = 20_000 + 10 * Math.floor(Math.random() * 3_000);
    const child = spawn(process.execPath, [CLI, 'demo', '--peers-only', '--port-base', String(base), '--heartbeats-to', heartbeatsTo], {
      env: { ...process.env, PRODROME_ADMIN_TOKEN: 'peers-test-token' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const ready = new Promise<boolean>((resolve) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        if (line === 'Ctrl-C to stop.') resolve(true);
      });
      child.once('exit', () => resolve(false));
    });
    if (await ready) return { child, base, lines };
    if (!/in use/.test(stderr)) throw new Error(`demo --peers-only exited: ${stderr}`);
  }
  throw new Error('no free port base in 5 attempts');
}

/** The example config, moved from the default ports to the test's. */
function exampleConfig(base: number) {
  const text = readFileSync(EXAMPLE, 'utf8').replace(/4780([0-5])/g, (_, offset: string) => String(base + Number(offset)));
  return parseConfig(text, EXAMPLE);
}

async function probeOnce(config: ReturnType<typeof exampleConfig>, id: string): Promise<ProbeResult> {
  const check = config.checks.find((c) => c.id === id)!;
  const probe = buildProbe(check, { logger: silentLogger(), heartbeats: new HeartbeatBook(undefined, 'unused', 0) });
  const [unit] = unitsFor(check, probe);
  const [result] = (await runProbe(unit!, silentLogger())).values();
  await probe.close?.();
  return result!;
}

async function post(base: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${base}${path}`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('prodrome demo --peers-only', function () {
  this.timeout(60_000);
  let peers: Peers | undefined;
  let daemon: http.Server | undefined;
  const beats: { id: string; auth: string | undefined; at: number }[] = [];

  before(async () => {
    process.env.PRODROME_ADMIN_TOKEN ??= 'example-admin-token';
    // Stands in for the daemon's heartbeat API: records who beat, with which token.
    daemon = http.createServer((req, res) => {
      const m = /^\/api\/heartbeat\/([^/]+)$/.exec(req.url ?? '');
      if (req.method === 'POST' && m) beats.push({ id: decodeURIComponent(m[1]!), auth: req.headers.authorization, at: Date.now() });
      req.resume();
      res.writeHead(204).end();
    });
    const port = await listen(daemon);
    peers = await startPeers(`http://127.0.0.1:${port}`);
  });

  after(async () => {
    if (peers && peers.child.exitCode === null) {
      peers.child.kill('SIGINT');
      await once(peers.child, 'exit');
    }
    if (daemon) await close(daemon);
  });

  it('prints each system on its fixed port, a break and a repair line for each, and that 127.x answers ping', () => {
    const text = peers!.lines.join('\n');
    const c = `http://127.0.0.1:${peers!.base}`;
    expect(text).to.include(`http://127.0.0.1:${peers!.base + 1}/fhir`);
    expect(text).to.include(`127.0.0.1:${peers!.base + 2}`);
    expect(text).to.include(`127.0.0.1:${peers!.base + 4}`);
    for (const id of ['ehr', 'hl7', 'pacs', 'ward', 'storage']) expect(text).to.match(new RegExp(`curl -X POST ${c}/break/${id} +curl -X POST ${c}/repair/${id}`));
    expect(text).to.include('every 127.x.y.z address answers ping');
  });

  it('answers the example config\'s checks, which fail while their system is broken and pass once repaired', async () => {
    const config = exampleConfig(peers!.base);
    const cases: [peer: string, check: string, failed: (r: ProbeResult) => boolean][] = [
      ['ehr', 'ehr-fhir', (r) => !r.ok && r.error?.kind === 'http_status' && /503/.test(r.error.message)],
      ['hl7', 'hl7-lab-interface', (r) => !r.ok && r.error?.kind === 'rejected'],
      ['pacs', 'pacs-echo', (r) => !r.ok && r.error?.kind === 'rejected'],
      ['storage', 'pacs-storage', (r) => !r.ok && r.severity === 'warning' && Number(r.values.storage_used_percent) >= 91],
    ];
    for (const [peer, check, failed] of cases) {
      expect((await probeOnce(config, check)).ok, `${check} before break/${peer}`).to.equal(true);
      expect((await post(peers!.base, `/break/${peer}`)).body).to.deep.equal({ id: peer, broken: true });
      const broken = await probeOnce(config, check);
      expect(failed(broken), `${check} while ${peer} is broken: ${JSON.stringify(broken)}`).to.equal(true);
      await post(peers!.base, `/repair/${peer}`);
      expect((await probeOnce(config, check)).ok, `${check} after repair/${peer}`).to.equal(true);
    }
  });

  it('has the ward beat to the daemon with its token, and break/ward silences two workstations', async () => {
    await waitUntil(async () => new Set(beats.map((b) => b.id)).size === 20 || undefined, 'all 20 workstations beating', 10_000);
    expect(new Set(beats.map((b) => b.auth))).to.deep.equal(new Set(['Bearer peers-test-token']));
    await post(peers!.base, '/break/ward');
    // A beat already on its way when the break landed may arrive just after: count from 0.5 s on.
    const brokenAt = Date.now() + 500;
    // All beat on the same 2 s period: once the other 18 have each beaten again, the two would have too.
    const beatSince = () => new Set(beats.filter((b) => b.at > brokenAt).map((b) => b.id));
    await waitUntil(async () => beatSince().size >= 18 || undefined, '18 workstations beating after the break', 10_000);
    expect(beatSince().has('ws-3b-07') || beatSince().has('ws-3b-13'), 'a silenced workstation beat').to.equal(false);
  });

  it('refuses an unknown peer and a GET on a break path, and lists what is broken', async () => {
    expect((await post(peers!.base, '/break/lab')).status).to.equal(404);
    expect((await fetch(`http://127.0.0.1:${peers!.base}/break/ehr`)).status).to.equal(405);
    const list = (await (await fetch(`http://127.0.0.1:${peers!.base}/`)).json()) as { id: string; broken: boolean }[];
    expect(list.filter((p) => p.broken).map((p) => p.id)).to.deep.equal(['ward']);
  });

  it('exits 3 naming the port and --port-base when one of its ports is taken', async () => {
    const holder = net.createServer();
    const taken = await listen(holder);
    try {
      const child = spawn(process.execPath, [CLI, 'demo', '--peers-only', '--port-base', String(taken - 1)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const [code] = await once(child, 'exit');
      expect(code).to.equal(3);
      expect(stderr).to.include(`port ${taken} on 127.0.0.1 is in use`).and.to.include('--port-base');
    } finally {
      await close(holder);
    }
  });

  it('the example config is written for the default ports', () => {
    expect(readFileSync(EXAMPLE, 'utf8')).to.include(`http://127.0.0.1:${DEFAULT_BASE + 1}/fhir`);
  });
});

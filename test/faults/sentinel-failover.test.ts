import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { DaemonProcess, getJson, startDaemonWith, waitUntil } from '../helpers/daemon.js';
import { freePort, uniquePrefix } from '../helpers/redis.js';
import { TcpService } from '../helpers/servers.js';
import { skipWithout } from '../helpers/tools.js';


/** A redis-server (data node or sentinel) whose start is awaited on its log line; kept in `children` for the clean-up. */
async function spawnRedis(children: ChildProcess[], args: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.once('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`redis-server ${args.join(' ')} exited with ${code}: ${out}`)));
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (/ready to accept connections|Sentinel ID is/i.test(out)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
  child.removeAllListeners('exit');
  // Keep draining its output so a chatty sentinel never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

async function kill(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/** A CA and a server certificate for 127.0.0.1, made with openssl for this run. */
interface TestTls {
  ca: string;
  cert: string;
  key: string;
}

function makeTls(dir: string): TestTls {
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.crt'), '-days', '2', '-subj', '/CN=prodrome test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('redis.key'), '-out', at('redis.csr'), '-subj', '/CN=redis');
  writeFileSync(at('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', at('redis.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('redis.crt'), '-days', '2', '-extfile', at('san.ext'));
  return { ca: at('ca.crt'), cert: at('redis.crt'), key: at('redis.key') };
}

/** redis-server's TLS settings (data node or sentinel): TLS only, clients not asked for certificates. */
const tlsArgs = (tls: TestTls) => ['--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no', '--tls-replication', 'yes'];

/** One short-lived command to a local Redis or sentinel. */
async function askWith(tls: TestTls | undefined, port: number, ...command: string[]): Promise<unknown> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, ...(tls ? { tls: { ca: readFileSync(tls.ca) } } : {}) });
  try {
    await r.connect();
    return await r.call(command[0]!, ...command.slice(1));
  } finally {
    r.disconnect();
  }
}

const ready = async (api: string) => (await fetch(`${api}/readyz`)).status;

/**
 * Redis high availability: a primary, a replica and three sentinels, real processes on loopback.
 * The primary is SIGKILLed with the daemon running; the sentinels promote the replica, and the
 * daemon, connected through the sentinels, finds the new primary by itself. Meanwhile it keeps
 * probing and buffers state changes, as it does for a plain Redis outage.
 */
describe('fault: Redis Sentinel failover (primary SIGKILLed, replica promoted)', function () {
  this.timeout(60_000);
  const children: ChildProcess[] = [];
  let receiver: WebhookReceiver | undefined;
  let daemon: DaemonProcess | undefined;
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-sentinel-'));
  });
  after(async () => {
    await daemon?.kill('SIGKILL');
    for (const c of children) await kill(c);
    await receiver?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reconnects to the promoted replica by itself: /readyz 503 meanwhile, no state change lost', async function () {
    await failover(this, undefined);
  });

  it('does the same with TLS to the sentinels and the data nodes (redis.sentinels.tls)', async function () {
    await failover(this, makeTls(mkdtempSync(join(dir, 'tls-'))));
  });

  async function failover(test: Mocha.Context, tls: TestTls | undefined): Promise<void> {
    const ask = (port: number, ...command: string[]) => askWith(tls, port, ...command);
    const [p1, p2, ...sentinelPorts] = await Promise.all([0, 1, 2, 3, 4].map(() => freePort()));
    const node = (port: number, extra: string[]) => {
      const d = mkdtempSync(join(dir, `node-${port}-`));
      const listen = tls ? ['--port', '0', '--tls-port', String(port), ...tlsArgs(tls)] : ['--port', String(port)];
      return [...listen, '--bind', '127.0.0.1', '--dir', d, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', ...extra];
    };
    const primary = await spawnRedis(children, node(p1!, []));
    await spawnRedis(children, node(p2!, ['--replicaof', '127.0.0.1', String(p1)]));
    await waitUntil(async () => /master_link_status:up/.test(String(await ask(p2!, 'INFO', 'replication'))), 'the replica in sync', 10_000);

    // Sentinels rewrite their config file: each gets its own, writable.
    for (const [i, port] of sentinelPorts.entries()) {
      const conf = join(dir, `sentinel-${i}.conf`);
      writeFileSync(conf, [
        ...(tls ? ['port 0', `tls-port ${port}`, `tls-cert-file ${tls.cert}`, `tls-key-file ${tls.key}`, `tls-ca-cert-file ${tls.ca}`, 'tls-auth-clients no', 'tls-replication yes'] : [`port ${port}`]),
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor mymaster 127.0.0.1 ${p1} 2`,
        'sentinel down-after-milliseconds mymaster 1000',
        'sentinel failover-timeout mymaster 5000',
        '',
      ].join('\n'));
      try {
        await spawnRedis(children, [conf, '--sentinel']);
      } catch (err) {
        // This redis-server has no sentinel (or TLS) mode.
        if (i === 0 && /not supported|unsupported|unknown option|bad directive/i.test(String(err))) skipWithout(test, 'redis-server with sentinel and TLS support', 'apt-get install redis-server (Debian builds have both)');
        throw err;
      }
    }
    // Each sentinel must know the replica (to promote it) and the two others (quorum and election).
    for (const port of sentinelPorts) {
      await waitUntil(async () => ((await ask(port, 'SENTINEL', 'REPLICAS', 'mymaster')) as unknown[]).length === 1, `sentinel ${port} knows the replica`, 15_000);
      await waitUntil(async () => ((await ask(port, 'SENTINEL', 'SENTINELS', 'mymaster')) as unknown[]).length === 2, `sentinel ${port} knows the other sentinels`, 15_000);
    }

    receiver = await new WebhookReceiver().start();
    const first = new TcpService(await freePort());
    const second = new TcpService(await freePort());
    await Promise.all([first.up(), second.up()]);
    // The test CA, as an operator adds a private one.
    const env = { ...process.env, REDIS_URL: '', PRODROME_CONFIG: '', ...(tls ? { NODE_EXTRA_CA_CERTS: tls.ca } : {}) };
    const started = await startDaemonWith(dir, uniquePrefix('sentinel'), `checks:
${[first, second].map((s, i) => `  - { id: lis-${i}, type: tcp, target: "127.0.0.1:${s.port}", interval: 100ms, timeout: 80ms, confirm: 2, recover: 2 }`).join('\n')}
ticketing:
  default: helpdesk
  backoff: { initial: 100ms, max: 500ms }
  providers:
    helpdesk: { type: webhook, url: "${receiver.url}" }
`, env, { redis: `sentinels: { name: mymaster, hosts: [${sentinelPorts.map((p) => `"127.0.0.1:${p}"`).join(', ')}]${tls ? ', tls: true' : ''} }` });
    daemon = started.daemon;
    const { api } = started;
    await waitUntil(async () => (await ready(api)) === 200, 'ready through the sentinels', 15_000);

    // An incident ticketed before the failover; WAIT returns once the replica has acknowledged
    // every write so far (what a promoted replica holds is what was replicated, not what was fsynced).
    await first.down();
    await receiver.waitFor('open', 1);
    expect(Number(await ask(p1!, 'WAIT', '1', '5000')), 'replicas that acknowledged the writes').to.equal(1);

    await kill(primary);
    await waitUntil(async () => (await ready(api)) === 503, '/readyz 503 while there is no primary', 10_000);
    const readyz = (await getJson(`${api}/readyz`)) as { reasons: string[] };
    expect(readyz.reasons.join(' ')).to.match(/redis unreachable/);
    // A second failure during the failover: confirmed in memory, buffered for Redis.
    await second.down();
    await waitUntil(async () => ((await getJson(`${api}/api/checks`)) as { targets: { status: string }[] }[]).map((c) => c.targets[0]!.status).join() === 'critical,critical', 'the second failure seen during the failover');

    // The sentinels promote the replica.
    await waitUntil(async () => ((await ask(sentinelPorts[0]!, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')) as string[])[1] === String(p2), 'the replica promoted', 20_000);
    await waitUntil(async () => (await ready(api)) === 200, 'ready again on the new primary, without a restart of the daemon', 20_000);
    await waitUntil(async () => receiver!.received.some((h) => h.action === 'open' && h.key.startsWith('lis-1|')), 'the failure seen during the failover ticketed', 20_000);

    // One ticket each; the first incident survived the failover (no second open for it).
    expect(receiver.received.filter((h) => h.action === 'open').map((h) => h.key.split('|')[0]).sort()).to.deep.equal(['lis-0', 'lis-1']);
    const open = (await getJson(`${api}/api/incidents`)) as { key: string; status: string }[];
    expect(open.map((i) => i.key.split('|')[0]).sort()).to.deep.equal(['lis-0', 'lis-1']);
    // And it is on the new primary.
    expect(String(await ask(p2!, 'INFO', 'replication'))).to.match(/role:master/);
    await daemon.kill('SIGKILL');
    for (const c of children.splice(0)) await kill(c);
    await receiver.stop();
    receiver = undefined;
  }
});

import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startDicomScp, type DicomScp } from '../../src/demo/simulators/dicom-scp.js';
import { startMllpServer, type MllpFake } from '../../src/demo/simulators/mllp-server.js';
import type { FailureKind } from '../../src/messages/probe-result.js';
import { TestCa } from '../fakes/certs.js';
import { FakeDnsServer } from '../fakes/dns-server.js';
import { fpingDeadOutput, silentNetworkFping, writeFakeFping, type FakeFping } from '../fakes/fake-fping.js';
import { CLI, getJson, startDaemonWith, waitUntil, type DaemonProcess } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, freePortClosed, listen, trackSockets } from '../helpers/servers.js';
import { hostilePeer, type HostilePeer } from '../probes/hostile-peers.js';

/** What one failure case expects: the kind its probe names, and a warning where the kind is one. */
interface Case {
  id: string;
  type: string;
  kind: FailureKind;
  severity?: 'warning';
  /** The check's fields after id and type, as YAML flow-mapping entries. */
  fields: string;
}

interface IncidentView {
  checkId: string;
  status: string;
  severity: string;
  evidence: { kind: string; message: string };
}

const TOKEN = 'failure-kinds-token-5Tq8';

/** Writes and reads HTTP like a web server would, one behaviour per path. */
function webServer(): http.Server {
  const capability = (version: string) => JSON.stringify({ resourceType: 'CapabilityStatement', fhirVersion: version });
  const routes: Record<string, (res: http.ServerResponse) => void> = {
    '/503': (res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('service unavailable'),
    '/html': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>maintenance tonight</body></html>'),
    '/big': (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(4_096)),
    '/used': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"used": 97}'),
    '/slow': (res) => void setTimeout(() => res.writeHead(200).end('UP'), 150),
    '/hang': () => {},
    '/fhir-503/metadata': (res) => res.writeHead(503, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"OperationOutcome"}'),
    '/fhir-401/metadata': (res) => res.writeHead(401, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"OperationOutcome"}'),
    '/fhir-html/metadata': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'),
    '/fhir-v3/metadata': (res) => res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(capability('3.0.2')),
    '/fhir-hang/metadata': () => {},
    '/fhir-slow/metadata': (res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(capability('4.0.1')), 150),
  };
  return http.createServer((req, res) => (routes[req.url ?? ''] ?? ((r) => r.writeHead(404).end()))(res));
}

/** Runs the CLI; what counts is its output and exit code. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env }, (err, stdout) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, out: stdout }));
  });
}

/**
 * Every failure kind each probe type can produce, through the whole daemon: the probe's result is
 * a failure (ok false), `prodrome_probe_success` is 0 for it, and an incident opens with that kind.
 * One case per kind, each against a loopback peer built to cause it. A failure that passed
 * anywhere on the way (as ICMP's did, handing a result with `ok: true` to the failure builder)
 * leaves its check without an incident and its metric at 1.
 */
describe('end to end: every failure kind of every probe type is a failure', function () {
  this.timeout(120_000);
  const closers: (() => Promise<unknown>)[] = [];
  const cases: Case[] = [];
  let daemon: DaemonProcess | undefined;
  let api: string;
  let configPath: string;
  let env: NodeJS.ProcessEnv;

  before(async function () {
    this.timeout(60_000);
    const web = webServer();
    trackSockets(web);
    const webPort = await listen(web);
    closers.push(() => close(web));
    const closed = await freePortClosed();
    /** A fixture, closed after the test. */
    const kept = async <T>(made: Promise<T>, release: (fixture: T) => Promise<unknown>): Promise<T> => {
      const fixture = await made;
      closers.push(() => release(fixture));
      return fixture;
    };
    const peer = (onConnection: (socket: net.Socket) => void): Promise<HostilePeer> => kept(hostilePeer(onConnection), (p) => p.close());
    const resetting = await peer((s) => s.resetAndDestroy());
    const silent = await peer(() => {});
    const sshBanner = await peer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));

    const ca = await kept(TestCa.create(), (c) => c.remove());
    const tlsServer = async (pair: { key: string; cert: string }) => {
      const server = tls.createServer({ key: pair.key, cert: pair.cert }, (s) => s.end());
      server.on('tlsClientError', () => {});
      trackSockets(server);
      const port = await listen(server);
      closers.push(() => close(server));
      return port;
    };
    const selfSigned = await tlsServer(await ca.selfSigned());
    const expiring = await tlsServer(await ca.leafForDays(20));

    const dns = await kept(FakeDnsServer.start({
      records: { 'ehr.hospital.test': { A: ['10.0.0.5'] } },
      servfail: ['pacs.hospital.test'],
      refused: ['lab.hospital.test'],
      hang: ['ris.hospital.test'],
    }), (d) => d.close());

    const mllp = (behaviour: Parameters<typeof startMllpServer>[0]): Promise<MllpFake> => kept(startMllpServer(behaviour), (m) => m.close());
    const mllpAe = await mllp({ kind: 'ack', code: 'AE', text: 'unknown receiving application' });
    const mllpGarbage = await mllp({ kind: 'garbage' });
    const mllpHang = await mllp({ kind: 'hang' });
    const mllpClose = await mllp({ kind: 'close' });

    const scp = (options: Parameters<typeof startDicomScp>[0]): Promise<DicomScp> => kept(startDicomScp(options), (d) => d.close());
    const scpOtherAe = await scp({ aeTitle: 'PACS_MAIN' });
    const scpStatus = await scp({ echoStatus: 0x0122 });
    const scpGarbage = await scp({ behaviour: 'garbage' });
    const scpHang = await scp({ behaviour: 'hang' });
    const scpAbort = await scp({ behaviour: 'abort' });

    const fping = (options: Parameters<typeof writeFakeFping>[0]): Promise<FakeFping> => kept(writeFakeFping(options), (f) => f.remove());
    const fpingDead = await fping(fpingDeadOutput(['127.77.0.5'], 3));
    const fpingLoss = await fping({ exitCode: 1, stderr: '127.77.0.6 : 0.05 - -\n' });
    const fpingSlow = await fping({ exitCode: 0, stderr: '127.77.0.7 : 30.1 45.0 29.0\n' });
    const fpingDns = await fping({ exitCode: 2, stderr: 'ward7-pc12.invalid: Name or service not known\n' });
    const fpingBroken = await fping({ exitCode: 4, stderr: "fping: can't create socket (must run as root?)\n" });

    const web_ = `http://127.0.0.1:${webPort}`;
    const add = (type: string, kind: FailureKind, fields: string, severity?: 'warning') =>
      cases.push({ id: `${type}-${kind}-${cases.filter((c) => c.type === type && c.kind === kind).length + 1}`, type, kind, fields, ...(severity ? { severity } : {}) });

    add('http', 'http_status', `target: "${web_}/503"`);
    add('http', 'bad_payload', `target: "${web_}/html", expect: { bodyContains: UP }`);
    add('http', 'bad_payload', `target: "${web_}/big", maxBodyBytes: 1024`);
    add('http', 'threshold', `target: "${web_}/used", value: { name: used_percent, path: used, critical: 90 }`);
    add('http', 'slow', `target: "${web_}/slow", slow: 20ms`, 'warning');
    add('http', 'timeout', `target: "${web_}/hang"`);
    add('http', 'refused', `target: "http://127.0.0.1:${closed}/"`);
    add('http', 'reset', `target: "http://${resetting.address}/"`);
    add('http', 'tls', `target: "https://127.0.0.1:${selfSigned}/"`);
    add('http', 'dns', 'target: "http://no-such-host.invalid/"');

    add('tcp', 'refused', `target: "127.0.0.1:${closed}"`);
    add('tcp', 'bad_payload', `target: "${sshBanner.address}", expectBanner: "^220 "`);
    add('tcp', 'timeout', `target: "${silent.address}", expectBanner: "^220 "`);
    add('tcp', 'reset', `target: "${resetting.address}", expectBanner: "^220 "`);
    add('tcp', 'dns', 'target: "no-such-host.invalid:25"');

    add('tls', 'tls', `target: "127.0.0.1:${selfSigned}"`);
    add('tls', 'threshold', `target: "127.0.0.1:${expiring}", ca: "${ca.ca.certPath}", criticalDays: 30`);
    add('tls', 'threshold', `target: "127.0.0.1:${expiring}", ca: "${ca.ca.certPath}", criticalDays: 7, warningDays: 30`, 'warning');
    add('tls', 'timeout', `target: "${silent.address}"`);
    add('tls', 'reset', `target: "${resetting.address}"`);
    add('tls', 'refused', `target: "127.0.0.1:${closed}"`);

    add('dns', 'dns', `target: nowhere.hospital.test, server: "${dns.address}"`);
    add('dns', 'dns', `target: pacs.hospital.test, server: "${dns.address}"`);
    add('dns', 'bad_payload', `target: ehr.hospital.test, server: "${dns.address}", expect: ["10.0.0.9"]`);
    add('dns', 'refused', `target: lab.hospital.test, server: "${dns.address}"`);
    add('dns', 'timeout', `target: ris.hospital.test, server: "${dns.address}"`);

    add('fhir', 'http_status', `target: "${web_}/fhir-503"`);
    add('fhir', 'auth', `target: "${web_}/fhir-401"`);
    add('fhir', 'bad_payload', `target: "${web_}/fhir-html"`);
    add('fhir', 'wrong_version', `target: "${web_}/fhir-v3", fhirVersion: "4.0.1"`);
    add('fhir', 'timeout', `target: "${web_}/fhir-hang"`);
    add('fhir', 'slow', `target: "${web_}/fhir-slow", slow: 20ms`, 'warning');
    add('fhir', 'refused', `target: "http://127.0.0.1:${closed}/fhir"`);

    add('hl7-mllp', 'rejected', `target: "mllp://127.0.0.1:${mllpAe.port}"`);
    add('hl7-mllp', 'bad_payload', `target: "mllp://127.0.0.1:${mllpGarbage.port}"`);
    add('hl7-mllp', 'timeout', `target: "mllp://127.0.0.1:${mllpHang.port}"`);
    add('hl7-mllp', 'reset', `target: "mllp://127.0.0.1:${mllpClose.port}"`);
    add('hl7-mllp', 'refused', `target: "mllp://127.0.0.1:${closed}"`);

    add('dicom-echo', 'rejected', `target: "127.0.0.1:${scpOtherAe.port}", calledAeTitle: PACS_OTHER`);
    add('dicom-echo', 'rejected', `target: "127.0.0.1:${scpStatus.port}"`);
    add('dicom-echo', 'bad_payload', `target: "127.0.0.1:${scpGarbage.port}"`);
    add('dicom-echo', 'timeout', `target: "127.0.0.1:${scpHang.port}"`);
    add('dicom-echo', 'reset', `target: "127.0.0.1:${scpAbort.port}"`);
    add('dicom-echo', 'refused', `target: "127.0.0.1:${closed}"`);

    add('icmp', 'unreachable', `target: 127.77.0.5, engine: fping, fpingPath: "${fpingDead.path}"`);
    add('icmp', 'threshold', `target: 127.77.0.6, engine: fping, fpingPath: "${fpingLoss.path}"`);
    add('icmp', 'slow', `target: 127.77.0.7, engine: fping, fpingPath: "${fpingSlow.path}", slow: 20ms`, 'warning');
    add('icmp', 'dns', `target: ward7-pc12.invalid, engine: fping, fpingPath: "${fpingDns.path}"`);
    add('icmp', 'error', `target: 127.77.0.8, engine: fping, fpingPath: "${fpingBroken.path}"`);
    const silentFping = await silentNetworkFping();
    if ('path' in silentFping) {
      closers.push(() => silentFping.remove());
      add('icmp', 'unreachable', `target: 127.77.0.9, engine: fping, fpingPath: "${silentFping.path}", count: 2, perPacketTimeout: 200ms`);
    } else {
      console.log(`      (the real fping against a silent network is left out: no ${silentFping.missing})`);
    }

    add('host', 'threshold', 'target: self, memory: { critical: 0.001 }');
    add('host', 'error', 'target: self, processes: [prodrome-no-such-process]');

    add('heartbeat', 'missing', 'target: never-beats, window: 1s');
    add('heartbeat', 'error', 'target: beats-fail, window: 1h');

    // An fping cycle of three requests needs 1.5 s (validate holds a check to it); listing processes
    // spawns ps, which a loaded runner may take a while to start.
    const timing = (c: Case) => (c.type === 'icmp' || c.type === 'host' ? 'interval: 3s, timeout: 2s' : 'interval: 1s, timeout: 600ms');
    const checks = cases.map((c) => `  - { id: ${c.id}, type: ${c.type}, ${c.fields}, ${timing(c)}, confirm: 1 }`).join('\n');
    env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', FK_TOKEN: TOKEN };
    const started = await startDaemonWith(mkdtempSync(join(tmpdir(), 'prodrome-failure-kinds-')), uniquePrefix('failure-kinds'), `checks:\n${checks}\n`, env, { tokenEnv: 'FK_TOKEN' });
    ({ daemon, api, configPath } = started);
    const beat = await fetch(`${api}/api/heartbeat/beats-fail`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'fail', message: 'backup job exited 3' }),
    });
    expect(beat.status, 'the failing beat is accepted').to.equal(202);
  });

  after(async () => {
    await daemon?.kill('SIGKILL');
    for (const closeIt of closers.reverse()) await closeIt().catch(() => {});
  });

  it('opens an incident of the failure\'s kind for every case, with its probe success at 0', async () => {
    const incidents = await waitUntil(async () => {
      const open = (await getJson(`${api}/api/incidents`)) as IncidentView[];
      return cases.every((c) => open.some((i) => i.checkId === c.id)) ? open : undefined;
    }, `an incident for each of ${cases.length} cases`, 60_000).catch(async (err: Error) => {
      const open = (await getJson(`${api}/api/incidents`)) as IncidentView[];
      throw new Error(`${err.message}; none for: ${cases.filter((c) => !open.some((i) => i.checkId === c.id)).map((c) => c.id).join(', ')}`);
    });
    const metrics = await (await fetch(`${api}/metrics`)).text();
    const wrong: string[] = [];
    for (const c of cases) {
      const incident = incidents.find((i) => i.checkId === c.id)!;
      if (incident.evidence.kind !== c.kind) wrong.push(`${c.id}: incident kind ${incident.evidence.kind} (${incident.evidence.message})`);
      if (incident.severity !== (c.severity ?? 'critical')) wrong.push(`${c.id}: incident severity ${incident.severity}`);
      const success = new RegExp(`^prodrome_probe_success\\{check="${c.id}",type="${c.type}",target="[^"]*"\\} (\\d)$`, 'm').exec(metrics)?.[1];
      if (success !== '0') wrong.push(`${c.id}: prodrome_probe_success ${success ?? 'missing'}`);
    }
    expect(wrong).to.deep.equal([]);
    expect(new Set(cases.map((c) => c.type)).size, 'probe types covered').to.equal(10);
  });

  it('prints FAIL and exits 1 for a dead workstation in prodrome check', async () => {
    const { code, out } = await cli(['check', 'icmp-unreachable-1', '-c', configPath], env);
    expect(out).to.match(/^FAIL {2}icmp-unreachable-1 {2}127\.77\.0\.5 .* unreachable: no reply to 3 echo requests/);
    expect(code).to.equal(1);
  });
});

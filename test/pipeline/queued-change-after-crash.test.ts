import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { startDaemon, type Daemon } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';
import type { StateChange } from '../../src/messages/state-change.js';
import { LOCK_MS, PipelineQueues, QUEUE_NAMES, STALL_CHECK_MS, stateChangeJobId } from '../../src/queue/queues.js';
import { redisOptionsFrom } from '../../src/queue/redis.js';
import { parseConfig } from '../helpers/config.js';
import { waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

/**
 * A daemon crashed just after confirming a failure: its problem change is still in the queue
 * (waiting, or taken by its dead worker), and the target came back while it was down. After the
 * restart the change must not open an incident that nothing will ever resolve.
 */
describe('a state change left in the queue by a crashed daemon', function () {
  this.timeout(60_000);
  let target: http.Server;
  let targetPort: number;
  let daemon: Daemon | undefined;

  before(async () => {
    target = http.createServer((_req, res) => res.end('up'));
    targetPort = await listen(target);
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });
  after(() => close(target));

  const problem = (at: number): StateChange => ({
    key: 'lab-lis|t', checkId: 'lab-lis', target: `http://127.0.0.1:${targetPort}/`, type: 'http', from: 'ok', to: 'critical', at, firstFailureAt: at - 300,
    evidence: { kind: 'http_status', message: 'HTTP 503', durationMs: 3, values: {}, at },
  });
  const withKey = (c: StateChange): StateChange => ({ ...c, key: `${c.checkId}|${c.target}` });

  async function start(prefix: string): Promise<Daemon> {
    const config = parseConfig(`
redis: { url: "${await sharedRedisUrl()}", prefix: ${prefix} }
http: { listen: "127.0.0.1:${await freePort()}" }
checks:
  - { id: lab-lis, type: http, target: "http://127.0.0.1:${targetPort}/", interval: 100ms, timeout: 80ms, confirm: 2, recover: 2 }
`);
    return startDaemon(config, silentLogger());
  }

  async function settled(d: Daemon, queues: PipelineQueues, jobId: string): Promise<void> {
    try {
      await waitUntil(async () => (await queues.stateChanges.getJobState(jobId)) === 'completed', 'the queued change to be applied', 30_000);
      // Applied: either judged outdated, or opened and then resolved by the recovery the
      // reconciled evaluator sends. Never left open.
      await waitUntil(async () => (await d.store.listOpen()).length === 0, 'no open incident', 15_000);
      const recent = await d.store.listRecent();
      expect(recent.every((i) => i.status === 'resolved')).to.equal(true);
    } finally {
      await queues.close();
    }
  }

  it('is resolved, or judged outdated, when it was still waiting at the crash', async () => {
    const prefix = uniquePrefix('crash-wait');
    const change = withKey(problem(Date.now() - 1_000));
    const producer = new PipelineQueues({ connection: redisOptionsFrom(await sharedRedisUrl()), prefix, logger: silentLogger(), ticketAttempts: 3, backoff: { initial: 100, max: 100 } });
    await producer.addStateChange(change);
    daemon = await start(prefix);
    await settled(daemon, producer, stateChangeJobId(change));
  });

  it('is resolved, or judged outdated, when the worker that died had already taken it', async () => {
    const prefix = uniquePrefix('crash-active');
    const change = withKey(problem(Date.now() - 1_000));
    const producer = new PipelineQueues({ connection: redisOptionsFrom(await sharedRedisUrl()), prefix, logger: silentLogger(), ticketAttempts: 3, backoff: { initial: 100, max: 100 } });
    await producer.addStateChange(change);
    // A worker in its own process, set up as the daemon's, takes the job and hangs in it; then it
    // dies without a word.
    const { host, port } = redisOptionsFrom(await sharedRedisUrl());
    const worker = spawn(process.execPath, ['--input-type=module', '-e', `
      import { Worker } from 'bullmq';
      const w = new Worker(${JSON.stringify(QUEUE_NAMES.stateChanges)}, () => { console.log('taken'); return new Promise(() => {}); },
        { connection: { host: ${JSON.stringify(host)}, port: ${port} }, prefix: ${JSON.stringify(prefix)}, lockDuration: ${LOCK_MS}, stalledInterval: ${STALL_CHECK_MS} });
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(worker.stdout!, 'data');
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    daemon = await start(prefix);
    await settled(daemon, producer, stateChangeJobId(change));
  });
});

import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JiraFake, textOf } from '../fakes/jira.js';
import { DaemonProcess, startDaemonWith, getJson, waitUntil } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

type Mode = 'up' | 'slow' | 'down';

/** Jira through the daemon as a child process: real Redis, the strict Jira fake on loopback. */
describe('Jira tickets end to end', function () {
  this.timeout(120_000);
  let jira: JiraFake;
  let target: http.Server;
  let mode: Mode = 'up';
  let daemon: DaemonProcess | undefined;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    jira = await new JiraFake({ projects: ['OPS'] }).start();
    target = http.createServer((_req, res) => {
      if (mode === 'down') return void res.writeHead(503).end('down');
      setTimeout(() => res.writeHead(200).end('ok'), mode === 'slow' ? 120 : 0);
    });
    await listen(target);
    dir = mkdtempSync(join(tmpdir(), 'prodrome-jira-'));
    env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', JIRA_EMAIL: jira.email, JIRA_API_TOKEN: jira.apiToken };
  });
  afterEach(async () => {
    await daemon?.kill('SIGKILL');
    daemon = undefined;
    mode = 'up';
  });
  after(async () => Promise.all([jira.stop(), close(target)]));

  async function start(prefix = uniquePrefix('jira-e2e')): Promise<{ api: string; configPath: string }> {
    const started = await startDaemonWith(dir, prefix, `checks:
  - id: lis-gateway
    type: http
    description: Laboratory information system gateway
    target: "http://127.0.0.1:${(target.address() as { port: number }).port}/${prefix}"
    interval: 150ms
    timeout: 140ms
    slow: 60ms
    confirm: 2
    recover: 2
    impact: 1
ticketing:
  default: jira
  backoff: { initial: 100ms, max: 500ms }
  providers:
    jira: { type: jira, url: "${jira.url}", email: env:JIRA_EMAIL, apiToken: env:JIRA_API_TOKEN, project: OPS, doneTransition: Done }
`, env);
    daemon = started.daemon;
    return { api: started.api, configPath: started.configPath };
  }
  const issuesNow = () => jira.issues.length;

  it('opens, comments on the escalation and resolves through the Done transition, once, although Jira was down at first', async () => {
    jira.failNext({ status: 503, headers: { 'retry-after': '1' } }, { status: 429 }, { status: 500 });
    const before = issuesNow();
    await start();
    mode = 'slow';
    // After the 5xx the create may have happened: the provider gives Jira's search 15 s to show it first.
    await waitUntil(async () => issuesNow() > before, 'the issue', 45_000);
    const issue = jira.issues.at(-1)!;
    expect(issue.summary).to.include('lis-gateway');
    expect(issue.labels).to.include('prodrome');
    mode = 'down';
    await waitUntil(async () => jira.issue(issue.key).comments.some((c) => textOf(c.body).includes('Escalated from warning to critical')), 'the escalation comment', 30_000);
    mode = 'up';
    await waitUntil(async () => jira.issue(issue.key).status === 'Done', 'the issue done', 30_000);
    expect(jira.issues.length - before, 'one issue').to.equal(1);
  });

  it('keeps one issue when the daemon is SIGKILLed after Jira created it and before its answer, search lagging behind', async () => {
    jira.dieAfterCommit('create');
    const before = issuesNow();
    const { configPath, api } = await start();
    mode = 'down';
    await waitUntil(async () => issuesNow() > before, 'the issue committed in Jira', 30_000);
    await daemon!.kill('SIGKILL');
    daemon = new DaemonProcess(['start', '-c', configPath], env);
    await waitUntil(async () => ((await getJson(`${api}/api/incidents`)) as { tickets: unknown[] }[])[0]?.tickets.length, 'the ticket recorded', 60_000);
    expect(jira.issues.length - before, 'still one issue').to.equal(1);
  });
});

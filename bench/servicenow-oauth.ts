/**
 * ServiceNow OAuth over many token lifetimes: the daemon keeps opening and resolving tickets
 * against the strict ServiceNow fake (test/fakes/servicenow.ts) whose access tokens live 30
 * minutes, the instance default, for 75 minutes: two expiries and more for each of two providers,
 * one signing in with the client-credentials grant (the instance hands back the same token until
 * it ends, so the client meets the end and the 401 retry) and one with the password grant
 * (refreshed with the refresh token before the end).
 *
 * Two tcp checks on loopback ports the bench takes down and brings back on a cycle (down 30 s, up
 * 60 s; the second half a cycle behind): each cycle is one incident per check, so one ticket
 * opened and resolved in ServiceNow. The figure that counts: cycles whose ticket never opened or
 * never resolved (lost), which must be 0.
 *
 * Env: BENCH_SN_MINUTES (default 75; quick 4), BENCH_SN_TOKEN_MINUTES (default 30; quick 1).
 */
import { BARS } from './lib/bars.js';
import { disposeDaemon, startDaemon, type BenchDaemon } from './lib/daemon.js';
import { envNumber, QUICK } from './lib/env.js';
import { freePort, get, sleep } from './lib/net.js';
import { barRow, figure, fmt, mdTable, type BenchOutput } from './lib/results.js';
import { FakeServiceNow } from '../test/fakes/servicenow.js';
import { TcpService } from '../test/helpers/servers.js';

const CLIENT_ID = '3f5c1a0e9b7d4c2a8e6f0b1d2c3a4e5f';
const DOWN_MS = 30_000;
const UP_MS = 60_000;

interface Service {
  id: string;
  provider: string;
  tcp: TcpService;
  /** Cycles begun (taken down). */
  cycles: number;
}

export default async function benchServiceNowOAuth(): Promise<BenchOutput> {
  const minutes = envNumber('BENCH_SN_MINUTES', QUICK ? 4 : 75);
  const tokenMinutes = envNumber('BENCH_SN_TOKEN_MINUTES', QUICK ? 1 : 30);
  const sn = await new FakeServiceNow({ tokenLifetimeMs: tokenMinutes * 60_000 }).start();
  process.env.PD_BENCH_SN_SECRET = sn.oauthClients.get(CLIENT_ID)!;
  process.env.PD_BENCH_SN_PASSWORD = sn.users.get('prodrome.integration')!;
  const services: Service[] = [];
  for (const [id, provider] of [['pacs-gateway', 'sn-cc'], ['lab-interface', 'sn-pw']] as const) {
    const tcp = new TcpService(await freePort());
    await tcp.up();
    services.push({ id, provider, tcp, cycles: 0 });
  }
  const oauth = (grant: string) => `{ grant: ${grant}, clientId: ${CLIENT_ID}, clientSecret: env:PD_BENCH_SN_SECRET${grant === 'password' ? ', user: prodrome.integration, password: env:PD_BENCH_SN_PASSWORD' : ''} }`;
  const body = [
    'ticketing:',
    '  default: sn-cc',
    '  providers:',
    `    sn-cc: { type: servicenow, instance: "${sn.url}", oauth: ${oauth('client_credentials')} }`,
    `    sn-pw: { type: servicenow, instance: "${sn.url}", oauth: ${oauth('password')} }`,
    'checks:',
    ...services.map((s) => `  - { id: ${s.id}, type: tcp, target: "127.0.0.1:${s.tcp.port}", interval: 2s, timeout: 1s, confirm: 2, recover: 2, ticket: ${s.provider} }`),
    '',
  ].join('\n');

  let daemon: BenchDaemon | undefined;
  const startedAt = Date.now();
  const end = startedAt + minutes * 60_000;
  const cycleMs = DOWN_MS + UP_MS;
  try {
    daemon = await startDaemon({ body });
    console.log(`servicenow-oauth: ${minutes} min, tokens live ${tokenMinutes} min; a cycle is ${DOWN_MS / 1000} s down, ${UP_MS / 1000} s up`);
    let nextReport = startedAt + 5 * 60_000;
    // Each service cycles on its own timeline, the second half a cycle behind the first.
    const timelines = services.map(async (s, i) => {
      await sleep(i * (cycleMs / 2));
      while (Date.now() + cycleMs <= end) {
        await s.tcp.down();
        s.cycles++;
        await sleep(DOWN_MS);
        await s.tcp.up();
        await sleep(UP_MS);
      }
    });
    const reporter = (async () => {
      while (Date.now() < end) {
        await sleep(5_000);
        if (Date.now() >= nextReport) {
          nextReport += 5 * 60_000;
          const m = ((Date.now() - startedAt) / 60_000).toFixed(0);
          console.log(`  ${m} min: ${sn.incidents.length} tickets opened, ${sn.incidents.filter((r) => r.state === '6').length} resolved; ${sn.issued.length} tokens issued, ${sn.expiredTokenRefusals} calls met an expired token`);
        }
        if (!daemon!.running) throw new Error(`the daemon exited: ${daemon!.stderr.trim().split('\n').slice(-3).join(' / ')}`);
      }
    })();
    await Promise.all([...timelines, reporter]);
    // The last recovery's resolve: the checks pass again, recover 2 × 2 s, then the ticket job.
    const settleBy = Date.now() + 60_000;
    const cycles = services.reduce((n, s) => n + s.cycles, 0);
    while (Date.now() < settleBy && sn.incidents.filter((r) => r.state === '6').length < cycles) await sleep(500);
    const metrics = (await get(daemon.port, '/metrics', 10_000)).body;
    const errors = [...metrics.matchAll(/^prodrome_tickets_total\{[^}]*result="error"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    const opened = sn.incidents.length;
    const resolved = sn.incidents.filter((r) => r.state === '6').length;
    const lost = Math.max(0, cycles - resolved);
    const runMinutes = (Date.now() - startedAt) / 60_000;
    const byGrant = (grant: string) => sn.issued.filter((t) => t.grant === grant).length;
    console.log(`  done after ${fmt(runMinutes, 1)} min: ${cycles} cycles, ${opened} opened, ${resolved} resolved, ${lost} lost; ${errors} ticket errors`);
    const table = mdTable(
      ['figure', 'value'],
      [
        ['run length, min', fmt(runMinutes, 1)],
        ['token lifetime, min', tokenMinutes],
        ['outage cycles (incidents expected)', cycles],
        ['tickets opened', opened],
        ['tickets resolved', resolved],
        ['cycles lost (no ticket, or never resolved)', lost],
        ['prodrome_tickets_total{result="error"}', errors],
        ['access tokens issued: client_credentials / password / refresh_token', `${byGrant('client_credentials')} / ${byGrant('password')} / ${byGrant('refresh_token')}`],
        ['token requests: client_credentials / password / refresh_token', `${sn.tokenRequests.client_credentials ?? 0} / ${sn.tokenRequests.password ?? 0} / ${sn.tokenRequests.refresh_token ?? 0}`],
        ['API calls that met an expired token (each retried once with a new one)', sn.expiredTokenRefusals],
      ],
    );
    return {
      rows: [
        barRow('servicenow-oauth', BARS['servicenow-oauth']![0]!.name, lost, `${cycles} cycles over ${fmt(runMinutes, 1)} min with ${tokenMinutes}-min tokens`),
        figure('servicenow-oauth: tickets opened and resolved', resolved, 'tickets'),
        figure('servicenow-oauth: ticket delivery errors (retried)', errors, 'errors'),
        figure('servicenow-oauth: access tokens issued', sn.issued.length, 'tokens'),
      ],
      table,
      notes: [
        'The fake answers a grant asked again while its token lives with that same token (as the instance documents for user credentials); the password-grant provider refreshes with its refresh token before the end, the client-credentials one meets the end and retries once on the 401.',
      ],
    };
  } finally {
    await disposeDaemon(daemon);
    for (const s of services) await s.tcp.down();
    await sn.stop();
  }
}

import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeServiceNow } from '../fakes/servicenow.js';
import { startDaemonWith, waitUntil, type DaemonProcess } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { freePortClosed } from '../helpers/servers.js';

const CLIENT_ID = '3f5c1a0e9b7d4c2a8e6f0b1d2c3a4e5f';

/**
 * Routing through the daemon: two checks, each with its own assignment group and CI (one from its
 * profile), on an instance whose data policy makes a custom u_ field mandatory, signed in with OAuth.
 */
describe('ticket routing end to end', function () {
  this.timeout(60_000);
  let sn: FakeServiceNow;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    sn = await new FakeServiceNow().start();
    sn.addField('incident', 'u_site');
    sn.addField('incident', 'u_clinical_system');
    sn.mandatoryOnInsert.set('u_site', 'Site');
  });
  after(async () => {
    await daemon?.kill('SIGKILL');
    await sn.stop();
  });

  it('lands each check\'s ticket in its own group with its own CI, with the mandatory u_ field sent', async () => {
    const imaging = sn.addRecord('sys_user_group', { name: 'Imaging' });
    const ehrTeam = sn.addRecord('sys_user_group', { name: 'EHR Applications' });
    sn.addRecord('sys_user_group', { name: 'Service Desk' });
    const pacs = sn.addRecord('cmdb_ci', { name: 'PACS' });
    const ehr = sn.addRecord('cmdb_ci', { name: 'EHR Production' });
    const [pacsPort, ehrPort] = [await freePortClosed(), await freePortClosed()];
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', SN_CLIENT_SECRET: sn.oauthClients.get(CLIENT_ID)! };
    const started = await startDaemonWith(mkdtempSync(join(tmpdir(), 'prodrome-routing-')), uniquePrefix('routing'), `profiles:
  radiology: { hours: 24x7, urgency: 2, ticketFields: { servicenow: { assignment_group: Imaging, u_clinical_system: "{profile}: {check}" } } }
checks:
  - id: pacs-echo
    type: tcp
    target: "127.0.0.1:${pacsPort}"
    interval: 200ms
    timeout: 150ms
    confirm: 2
    profiles: [radiology]
    ticketFields: { servicenow: { cmdb_ci: PACS, category: hardware } }
  - id: ehr-fhir
    type: tcp
    target: "127.0.0.1:${ehrPort}"
    interval: 200ms
    timeout: 150ms
    confirm: 2
    ticketFields: { servicenow: { assignment_group: EHR Applications, cmdb_ci: EHR Production } }
ticketing:
  default: servicenow
  backoff: { initial: 100ms, max: 500ms }
  providers:
    servicenow:
      type: servicenow
      instance: "${sn.url}"
      oauth: { grant: client_credentials, clientId: ${CLIENT_ID}, clientSecret: env:SN_CLIENT_SECRET }
      fields: { assignment_group: Service Desk, u_site: Main campus, category: software }
`, env);
    daemon = started.daemon;
    const ticketOf = (target: string) => sn.incidents.find((i) => i.correlation_id === `${target}|127.0.0.1:${target === 'pacs-echo' ? pacsPort : ehrPort}`);
    await waitUntil(async () => ticketOf('pacs-echo') && ticketOf('ehr-fhir'), 'both tickets', 30_000);
    expect(ticketOf('pacs-echo')).to.include({ assignment_group: imaging, cmdb_ci: pacs, category: 'hardware', u_site: 'Main campus', u_clinical_system: 'radiology: pacs-echo' });
    expect(ticketOf('ehr-fhir')).to.include({ assignment_group: ehrTeam, cmdb_ci: ehr, category: 'software', u_site: 'Main campus' });
    expect(ticketOf('ehr-fhir')!.u_clinical_system ?? '', 'no profile: the radiology field is not there').to.equal('');
    expect(sn.requests.filter((r) => r.path.startsWith('/api/')).every((r) => r.authorization?.startsWith('Bearer '))).to.equal(true);
  });
});

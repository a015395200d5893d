#!/usr/bin/env node
// A ServiceNow instance to try tickets without one: the fake the tests use (test/fakes/servicenow.ts,
// the Table API and OAuth as ServiceNow documents them) on a fixed loopback port, printing what to
// put in the config and every incident Prodrome writes. Needs a build (`npm run build`).
//
//   node scripts/fake-servicenow.mjs [--port 47810] [--user prodrome.integration] [--password fake-sn-password]
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '47810' },
    user: { type: 'string', default: 'prodrome.integration' },
    password: { type: 'string', default: 'fake-sn-password' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node scripts/fake-servicenow.mjs [--port 47810] [--user prodrome.integration] [--password fake-sn-password]');
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`--port must be 1-65535, not ${values.port}`);
  process.exit(2);
}

let FakeServiceNow;
try {
  ({ FakeServiceNow } = await import('../dist/test/fakes/servicenow.js'));
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  console.error('dist/test/fakes/servicenow.js is missing: run `npm run build` first (in a checkout, not an installed package)');
  process.exit(2);
}

const time = () => new Date().toTimeString().slice(0, 8);
const oneLine = (text, max = 100) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};
const STATES = { 1: 'New', 2: 'In Progress', 3: 'On Hold', 6: 'Resolved', 7: 'Closed', 8: 'Canceled' };
const states = new Map();

const fake = new FakeServiceNow({
  onIncidentWrite(row, created, notes) {
    if (created) {
      console.log(`${time()}  ${row.number} opened: P${row.priority} (impact ${row.impact}, urgency ${row.urgency}) "${oneLine(row.short_description)}"`);
      if (row.assignment_group) console.log(`          assignment group: ${row.assignment_group === groupId ? 'Service Desk' : row.assignment_group}`);
    }
    for (const note of notes) console.log(`${time()}  ${row.number} ${note.field === 'work_notes' ? 'work note' : 'comment'}: ${oneLine(note.text)}`);
    if (!created && states.get(row.sys_id) !== row.state) {
      console.log(`${time()}  ${row.number} ${STATES[row.state] ?? `state ${row.state}`}${row.close_code ? ` (${row.close_code}): ${oneLine(row.close_notes ?? '')}` : ''}`);
    }
    states.set(row.sys_id, row.state);
  },
});
fake.users.clear();
fake.users.set(values.user, values.password);
// A group to route to by name, as `fields: { assignment_group: Service Desk }` does on a real instance.
const groupId = fake.addRecord('sys_user_group', { name: 'Service Desk', active: 'true' });

try {
  await fake.start(port);
} catch (err) {
  console.error(err?.code === 'EADDRINUSE' ? `port ${port} on 127.0.0.1 is in use: choose another with --port` : String(err));
  process.exit(3);
}

console.log(`A fake ServiceNow instance (Prodrome's test fake) at ${fake.url}
Signs in user ${values.user} with password ${values.password} (HTTP Basic), as a user with the itil role would;
knows the assignment group "Service Desk".

Its provider in your config:

ticketing:
  default: servicenow
  providers:
    servicenow:
      type: servicenow
      instance: ${fake.url}     # a real one: https://<your-instance>.service-now.com
      user: ${values.user}
      password: env:SN_PASSWORD
      fields: { assignment_group: Service Desk }

and in the shell that runs prodrome:  export SN_PASSWORD=${values.password}

Its incidents, as the Table API returns them:
  curl -s -u ${values.user}:${values.password} -H 'Accept: application/json' '${fake.url}/api/now/table/incident?sysparm_fields=number,short_description,priority,state'

Incidents as Prodrome writes them:`);

const stop = async () => {
  await fake.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

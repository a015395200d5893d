import { expect } from 'chai';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_SECRETS, loadConfig, parseConfig } from '../helpers/config.js';
import { ConfigError } from '../../src/core/errors.js';

function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

const check = (extra: string) => `checks:\n  - id: ehr\n    type: http\n    target: http://127.0.0.1:1/x\n${extra}`;

describe('config loading', () => {
  it('loads the default config shipped in config/prodrome.yaml', () => {
    const config = loadConfig('config/prodrome.yaml');
    expect(config.checks.length).to.be.greaterThan(0);
    expect(config.http.listen).to.match(/^127\.0\.0\.1:/);
  });

  it('loads every config in config/examples', () => {
    Object.assign(process.env, EXAMPLE_SECRETS);
    for (const file of readdirSync('config/examples').filter((f) => f.endsWith('.yaml'))) {
      expect(() => loadConfig(join('config/examples', file)), file).not.to.throw();
    }
  });

  it('takes quorum: N on a check, and refuses it with agent: or site:, or below 2', () => {
    expect(parseConfig(check('    quorum: 2\n'), 't').checks[0]!.quorum).to.equal(2);
    expect(problemsOf(check('    quorum: 2\n    site: north\n'))).to.deep.equal(['checks[0].quorum: cannot be combined with "site": a quorum needs agents at 2 different sites, and a pinned check runs at one']);
    expect(problemsOf(check('    quorum: 3\n    agent: ward-a-1\n'))[0]).to.match(/^checks\[0\]\.quorum: cannot be combined with "agent"/);
    expect(problemsOf(check('    quorum: 1\n'))[0]).to.match(/^checks\[0\]\.quorum: must be at least 2/);
    expect(parseConfig('agent: { id: a, ttl: 3s }\n', 't').agent.ttl).to.equal(3_000);
    expect(problemsOf('agent: { id: a, ttl: 1s }\n')[0]).to.match(/^agent\.ttl: must be between 2s and 5m/);
  });

  it('applies defaults to a check that leaves them out', () => {
    const config = parseConfig(`defaults: { interval: 20s, timeout: 3s, confirm: 4, recover: 5 }\n${check('')}`, 't');
    const c = config.checks[0]!;
    expect([c.intervalMs, c.timeoutMs, c.confirm, c.recover, c.impact, c.ticket]).to.deep.equal([20_000, 3_000, 4, 5, 2, ['local']]);
  });

  it('expands CIDR ranges and file: lists into targets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prodrome-cfg-'));
    writeFileSync(join(dir, 'ward.txt'), '# ward 4\n127.0.0.9\n\n127.0.0.10 # bed 2\n');
    const config = parseConfig(`checks:\n  - id: ward\n    type: icmp\n    targets: ["127.0.0.1", "127.0.0.4/31", "file:${dir}/ward.txt"]\n`, 't');
    expect(config.checks[0]!.targets).to.deep.equal(['127.0.0.1', '127.0.0.4', '127.0.0.5', '127.0.0.9', '127.0.0.10']);
  });

  it('resolves env: secrets at load', () => {
    process.env.PRODROME_TEST_TOKEN = 's3cret-token';
    const config = parseConfig('http: { token: env:PRODROME_TEST_TOKEN }\n', 't');
    expect(config.http.token).to.equal('s3cret-token');
  });

  it('reports every problem at once, each with its path', () => {
    const problems = problemsOf(`
defaults: { interval: soon }
checks:
  - id: Bad Id
    type: http
    target: http://x
  - id: ok
    type: nosuch
    target: x
`);
    expect(problems).to.include('defaults.interval: "soon" is not a duration (use 250ms, 30s, 5m, 2h or 7d)');
    expect(problems).to.include('checks[0].id: must match [a-z0-9._-]+');
    expect(problems.some((p) => p.startsWith('checks[1].type: unknown probe type "nosuch"'))).to.equal(true);
  });

  // Each row: a config fragment and the one problem line it must produce.
  const invalid: [string, string, string][] = [
    ['an unknown top-level key', 'chekcs: []\n', 'chekcs: unknown key'],
    ['an unknown key in a check (a typo must not disable it)', check('    intervall: 10s\n'), 'checks[0].intervall: unknown key'],
    ['an unknown probe type, naming the known ones', 'checks:\n  - { id: a, type: wmi, target: x }\n', 'checks[0].type: unknown probe type "wmi"; known: http, tcp'],
    ['a malformed duration', check('    timeout: 5 seconds\n'), 'checks[0].timeout: "5 seconds" is not a duration (use 250ms, 30s, 5m, 2h or 7d)'],
    ['a timeout longer than the interval', check('    interval: 5s\n    timeout: 10s\n'), 'checks[0].timeout: 10s is longer than the interval (5s): runs would overlap'],
    ['both target and targets', check('    targets: [a]\n'), 'checks[0]: needs exactly one of "target" or "targets"'],
    ['neither target nor targets', 'checks:\n  - { id: a, type: tcp }\n', 'checks[0]: needs exactly one of "target" or "targets"'],
    ['both interval and schedule', check('    interval: 5s\n    schedule: "* * * * *"\n'), 'checks[0]: has both "interval" and "schedule"; choose one'],
    ['a bad cron expression', check('    schedule: "every monday"\n'), 'checks[0].schedule: is not a valid cron expression'],
    ['a bad check id', 'checks:\n  - { id: "EHR Main", type: tcp, target: "a:1" }\n', 'checks[0].id: must match [a-z0-9._-]+'],
    ['a duplicate check id', 'checks:\n  - { id: a, type: tcp, target: "a:1" }\n  - { id: a, type: tcp, target: "b:1" }\n', 'checks[1].id: "a" is already used by checks[0]'],
    ['an impact out of range', check('    impact: 5\n'), 'checks[0].impact: must be 1, 2 or 3'],
    ['an unknown profile', check('    profiles: [icu]\n'), 'checks[0].profiles[0]: no profile "icu" under profiles'],
    ['an unknown healer', check('    heal: [restart-it]\n'), 'checks[0].heal[0]: no healer "restart-it" under healers'],
    ['an unknown ticket provider', check('    ticket: servicenow\n'), 'checks[0].ticket: no provider "servicenow" in ticketing.providers (have: local)'],
    ['a missing env secret', 'http: { token: env:PRODROME_SURELY_UNSET_VAR }\n', 'http.token: environment variable PRODROME_SURELY_UNSET_VAR is not set'],
    ['an unreadable file secret', 'http: { token: "file:/nonexistent/token" }\n', 'http.token: cannot read secret file /nonexistent/token: ENOENT'],
    ['an unreadable target list', 'checks:\n  - { id: a, type: icmp, targets: ["file:/nonexistent/ward.txt"] }\n', 'checks[0].targets: cannot read target list /nonexistent/ward.txt: ENOENT'],
    ['a CIDR range too wide', 'checks:\n  - { id: a, type: icmp, targets: ["10.0.0.0/8"] }\n', 'checks[0].targets: "10.0.0.0/8" holds 16777216 addresses; at most 65536 per check'],
    ['bad working hours', 'profiles:\n  clinic: { hours: "Tuesdays 7am" }\n', 'profiles.clinic.hours: "Tuesdays 7am" is not "Days HH:MM-HH:MM" (e.g. "Tue,Thu 07:00-12:00") or "24x7"'],
    ['a bad time zone', 'profiles:\n  clinic: { hours: 24x7, timezone: Mars/Olympus }\n', 'profiles.clinic.timezone: is not an IANA time zone (e.g. America/Chicago)'],
    ['an unknown ticket provider type', 'ticketing:\n  providers:\n    sn: { type: remedy }\n', 'ticketing.providers.sn.type: unknown ticket provider type "remedy"; known: local, webhook'],
    ['a webhook without a URL', 'ticketing:\n  providers:\n    hook: { type: webhook }\n', 'ticketing.providers.hook.url: must be an http(s) URL'],
    ['a default provider that does not exist', 'ticketing:\n  default: jira\n', 'ticketing.default: no provider "jira" in ticketing.providers (have: local)'],
    ['an unknown healer type', 'healers:\n  fix: { type: reboot-server }\n', 'healers.fix.type: unknown healer type "reboot-server"; known: command'],
    ['a kill-process healer with both pidFile and name', 'healers:\n  stop: { type: kill-process, pidFile: /run/x.pid, name: x }\n', 'healers.stop: needs exactly one of "pidFile" or "name"'],
    ['a command healer with a placeholder inside an argument', 'healers:\n  fix: { type: command, argv: [/opt/fix, "--host={host}"] }\n', 'healers.fix.argv[1]: "--host={host}": placeholders must stand alone'],
    ['a healer with a bad policy field', 'healers:\n  fix: { type: command, argv: [/opt/fix], attempts: 0 }\n', 'healers.fix.attempts:'],
    ['a parent that is no check', 'checks:\n  - { id: ward, type: tcp, target: "127.0.0.1:1", parents: [switch] }\n', 'checks[0].parents[0]: no check "switch"'],
    ['parents in a cycle', 'checks:\n  - { id: a, type: tcp, target: "127.0.0.1:1", parents: [b] }\n  - { id: b, type: tcp, target: "127.0.0.1:2", parents: [a] }\n', 'checks[0].parents: parents form a cycle: a → b → a'],
    ['a group share above 100%', 'checks:\n  - { id: ward, type: tcp, targets: ["127.0.0.1:1"], group: { failing: "150%" } }\n', 'checks[0].group.failing:'],
    ['a vantage check that does not exist', 'vantage: { checks: [gateway] }\n', 'vantage.checks[0]: no check "gateway"'],
    ['a maintenance window with a bad cron', 'maintenance:\n  - { id: patch, checks: ["ehr-*"], schedule: "every sunday", duration: 2h, reason: patching }\n', 'maintenance[0]'],
    ['change windows from a provider that is not servicenow', 'maintenance:\n  - fromServiceNow: { provider: local }\n', 'maintenance[0].fromServiceNow.provider: no servicenow provider "local"'],
    ['flapping exit above enter', 'flapping: { enter: 0.3, exit: 0.5 }\n', 'flapping: exit must be below enter'],
    ['a cleanup healer on the root directory', 'healers:\n  wipe: { type: cleanup, root: /, olderThan: 1d }\n', 'healers.wipe.root:'],
    ['a bad listen address', 'http: { listen: "9464" }\n', 'http.listen: must be host:port, e.g. 127.0.0.1:9464'],
    ['duplicate YAML keys', 'http: { listen: "127.0.0.1:1" }\nhttp: {}\n', 'test.yaml:2: Map keys must be unique'],
    ['a tcp target without a port', 'checks:\n  - { id: a, type: tcp, target: ehr-gateway }\n', 'checks[0].target: "ehr-gateway" is not host:port'],
    ['an http target without a scheme', 'checks:\n  - { id: a, type: http, target: ehr.example.org/health }\n', 'checks[0].target: "ehr.example.org/health" is not an http(s) URL'],
    ['a fhir target that is not a URL', 'checks:\n  - { id: a, type: fhir, target: "fhir.example.org:443" }\n', 'checks[0].target: "fhir.example.org:443" is not an http(s) FHIR base URL'],
    ['an hl7-mllp target without a port', 'checks:\n  - { id: a, type: hl7-mllp, target: "mllp://engine.example.org" }\n', 'checks[0].target: "mllp://engine.example.org" is not host:port'],
    ['a dicom-echo target with a port out of range', 'checks:\n  - { id: a, type: dicom-echo, target: "pacs:104000" }\n', 'checks[0].target: "pacs:104000" is not host:port'],
    ['a tls target given as a URL', 'checks:\n  - { id: a, type: tls, target: "https://ehr.example.org/" }\n', 'checks[0].target: "https://ehr.example.org/" is not host:port'],
    ['an icmp target that would reach fping as an option', 'checks:\n  - { id: a, type: icmp, targets: ["127.0.0.1", "-f"] }\n', 'checks[0].targets: "-f" is not an IP address or host name'],
    ['a dns target that is not a name', 'checks:\n  - { id: a, type: dns, target: "ehr example org" }\n', 'checks[0].target: "ehr example org" is not a DNS name'],
    ['a dns target that is an IP outside a PTR lookup', 'checks:\n  - { id: a, type: dns, target: 10.0.0.5 }\n', 'checks[0].target: "10.0.0.5" is an IP address: only a PTR lookup'],
    ['a host target that is another machine', 'checks:\n  - { id: a, type: host, target: ehr.example.org }\n', 'checks[0].target: "ehr.example.org" is not this machine'],
    ['a heartbeat id that cannot stand in a URL path', 'checks:\n  - { id: a, type: heartbeat, target: "ward 7/pc", window: 1h }\n', 'checks[0].target: "ward 7/pc" is not a heartbeat id'],
    ['an http option of the wrong type', check('    expect: { status: "200 OK" }\n'), 'checks[0].expect.status: must be a status code or a class like "2xx"'],
  ];
  it('accepts an IP address as the target of a PTR lookup', () => {
    expect(problemsOf('checks:\n  - { id: a, type: dns, target: 10.0.0.5, recordType: PTR }\n')).to.deep.equal([]);
  });

  it('lists at most five bad targets of a check and counts the rest', () => {
    const problems = problemsOf('checks:\n  - { id: a, type: tcp, targets: [a, b, "ok:1", c, d, e, f, g] }\n');
    expect(problems).to.deep.equal([
      ...['a', 'b', 'c', 'd', 'e'].map((t) => `checks[0].targets: "${t}" is not host:port (e.g. ehr-gateway.example.org:443)`),
      'checks[0].targets: and 2 more targets like these',
    ]);
  });

  for (const [what, yaml, expected] of invalid) {
    it(`rejects ${what}`, () => {
      const problems = problemsOf(yaml);
      expect(problems.some((p) => p.startsWith(expected)), `got:\n${problems.join('\n')}`).to.equal(true);
    });
  }
});

describe('config loading: every problem of a file in one run', () => {
  it('reports schema problems, references and target forms together, in one pass', () => {
    expect(problemsOf(`
profiles:
  ed: { description: ED, display: Emergency }
checks:
  - { id: ehr-cert, type: tls, target: "ehr.example.org:443", warnDays: 30, profiles: [ed] }
  - { id: lab, type: tcp, target: "lab-no-port", profiles: [nowhere], foo: 1 }
  - { id: ward, type: icmp, targets: ["127.66.0.1-20"], timeout: 2s }
`)).to.deep.equal([
      'profiles.ed.display: unknown key (allowed here: description, hours, timezone, urgency, closed, notify, quietHours, ticketFields)',
      'checks[0].warnDays: unknown key; did you mean "warningDays"?',
      'checks[1].foo: unknown key (allowed here: id, type, description, display, userImpact, runbook, target, targets, interval, schedule, timeout, confirm, recover, impact, profiles, heal, agent, site, quorum, ticket, enabled, parents, group, ticketFields, cmdbCi, predict, expectBanner)',
      'checks[1].profiles[0]: no profile "nowhere" under profiles',
      'checks[1].target: "lab-no-port" is not host:port (e.g. ehr-gateway.example.org:443)',
      'checks[2].targets: "127.66.0.1-20" is not an IP address: for a range, give a CIDR range (e.g. 10.20.5.0/27) or list each address',
    ]);
  });

  it('still checks the references of a check whose type is unknown', () => {
    expect(problemsOf('checks:\n  - { id: a, type: pingg, target: x, profiles: [nope] }\n')).to.deep.equal([
      'checks[0].type: unknown probe type "pingg"; known: http, tcp, fhir, hl7-mllp, icmp, host, tls, dns, dicom-echo, heartbeat, snmp, file',
      'checks[0].profiles[0]: no profile "nope" under profiles',
    ]);
  });

  it('does not call a check missing when a child names it and it has a problem of its own', () => {
    expect(problemsOf('checks:\n  - { id: sw, type: tcp, target: "10.0.0.1:22", intervall: 5s }\n  - { id: pc, type: tcp, target: "10.0.0.2:22", parents: [sw] }\n'))
      .to.deep.equal(['checks[0].intervall: unknown key; did you mean "interval"?']);
  });

  it('suggests the nearest key at every level: top, section, plugin entry', () => {
    expect(problemsOf('chekcs: []\nheal: { dryrun: true }\nhealers:\n  r: { type: command, argv: [x], timout: 5s }\n')).to.deep.equal([
      'chekcs: unknown key; did you mean "checks"?',
      'heal.dryrun: unknown key; did you mean "dryRun"?',
      'healers.r.timout: unknown key; did you mean "timeout"?',
    ]);
  });

  for (const [type, target] of [['icmp', '127.66.0.1-20'], ['icmp', '10.0.0.300'], ['tcp', '127.66.0.1-20:22'], ['http', 'http://127.66.0.1-20/health'], ['tcp', 'ehr.123:443']]) {
    it(`refuses ${type} target "${target}", which start would only fail at run time as dns`, () => {
      const [problem] = problemsOf(`checks:\n  - { id: a, type: ${type}, target: "${target}" }\n`);
      expect(problem).to.match(/^checks\[0\]\.target: ".*" is not an IP address/);
    });
  }

  it('still takes addresses, names and IPv6 as targets', () => {
    expect(problemsOf('checks:\n  - { id: a, type: icmp, targets: [127.0.0.1, "::1", "fe80::1%eth0", ward5-pc01, pacs.hospital.org, WS_3B_07] }\n')).to.deep.equal([]);
    expect(problemsOf('checks:\n  - { id: a, type: tcp, targets: ["[::1]:22", "lab-01.hospital.org:2575"] }\n')).to.deep.equal([]);
  });
});

describe('alertmanager severities and incidentPer', () => {
  const problemsOf = (section: string): string[] => {
    try {
      parseConfig(`alertmanager: ${section}\n`);
    } catch (e) {
      return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    }
    return [];
  };

  it('reports a severity mapped to something other than critical, warning or ignore, at its path', () => {
    expect(problemsOf('{ severities: { page: urgent } }')).to.deep.equal(['alertmanager.severities.page: must be critical, warning or ignore']);
  });

  it('reports an unknown incidentPer', () => {
    expect(problemsOf('{ incidentPer: fingerprint }')).to.deep.equal(['alertmanager.incidentPer: must be alert or group']);
  });

  it('defaults to critical, warning, and info and none ignored, one incident per alert', () => {
    expect(parseConfig('alertmanager: {}\n').alertmanager).to.deep.include({ severities: { critical: 'critical', warning: 'warning', info: 'ignore', none: 'ignore' }, incidentPer: 'alert', impactLabel: 'impact' });
  });
});

describe('ticketing options reported with their paths', () => {
  const problemsOf = (yaml: string): string[] => {
    try {
      parseConfig(yaml);
    } catch (e) {
      return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    }
    return [];
  };
  const sn = 'servicenow: { type: servicenow, instance: "https://hospital.service-now.com", user: a-user, password: a-password }';

  it('reports a change overrun that is no duration', () => {
    expect(problemsOf(`ticketing:\n  providers:\n    ${sn}\nmaintenance:\n  - fromServiceNow: { provider: servicenow, overrun: soon }\n`).join('\n')).to.include('maintenance[0].fromServiceNow.overrun: "soon" is not a duration');
  });

  it('reports a Jira priority that is not true or false', () => {
    expect(problemsOf('ticketing:\n  providers:\n    jira: { type: jira, url: "https://x.atlassian.net", email: a@b.org, apiToken: a-token, project: OPS, priority: none }\n').join('\n')).to.include('ticketing.providers.jira.priority');
  });

  it('reports a PagerDuty changeUrl that is not https', () => {
    expect(problemsOf('ticketing:\n  providers:\n    pd: { type: pagerduty, routingKey: e93facc04764012d7bfb002500d5d1a6, changeUrl: "http://events.example.org/v2/change/enqueue" }\n').join('\n')).to.include('ticketing.providers.pd.changeUrl: must be https://');
  });
});

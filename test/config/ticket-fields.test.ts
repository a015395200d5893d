import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import type { TicketFieldsByProvider } from '../../src/config/types.js';
import { ticketFieldsFor } from '../../src/ticketing/ticket-fields.js';
import { parseConfig } from '../helpers/config.js';

const PROVIDERS = `ticketing:
  default: sn
  providers:
    sn: { type: servicenow, instance: "https://hospital.service-now.com", user: a-user, password: a-password }
    pd: { type: pagerduty, routingKey: e93facc04764012d7bfb002500d5d1a6 }
    local: { type: local }
`;

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (e) {
    return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('ticket fields', () => {
  describe('precedence', () => {
    const incident = { checkId: 'pacs-echo', target: '10.1.2.3:104', profiles: ['radiology', 'cardiology'] };
    const profiles: { name: string; ticketFields: TicketFieldsByProvider }[] = [
      { name: 'radiology', ticketFields: { sn: { assignment_group: 'Imaging', u_owner: '{profile}', category: 'imaging' } } },
      { name: 'cardiology', ticketFields: { sn: { assignment_group: 'Cardiology', u_owner: '{profile}', u_ward: 'C3' } } },
    ];

    it('takes each field from the check, else from the first profile the incident lists that sets it', () => {
      const check = { ticketFields: { sn: { category: 'hardware', cmdb_ci: 'PACS {target}' } } };
      expect(ticketFieldsFor('sn', incident, check, profiles)).to.deep.equal({
        category: 'hardware', cmdb_ci: 'PACS 10.1.2.3:104', assignment_group: 'Imaging', u_owner: 'radiology', u_ward: 'C3',
      });
    });

    it('gives nothing for a provider none of them names', () => {
      expect(ticketFieldsFor('jira', incident, { ticketFields: { sn: { a: 'b' } } }, profiles)).to.deep.equal({});
    });

    it('fills {check} and {profile} in lists item by item, and leaves objects as given', () => {
      const check = { ticketFields: { jira: { labels: ['{check}', 'x-{profile}'], customfield_10010: { value: '{check}' } } } };
      expect(ticketFieldsFor('jira', incident, check, [])).to.deep.equal({ labels: ['pacs-echo', 'x-radiology'], customfield_10010: { value: '{check}' } });
    });
  });

  describe('at load', () => {
    const check = (fields: string) => `${PROVIDERS}checks:\n  - { id: pacs, type: tcp, target: "127.0.0.1:104", ticketFields: ${fields} }\n`;

    it('names a provider that does not exist, at its path', () => {
      expect(problems(check('{ jira: { components: [PACS] } }'))).to.include('checks[0].ticketFields.jira: no provider "jira" in ticketing.providers (have: sn, pd, local)');
    });

    it('refuses fields for a provider type that takes none', () => {
      expect(problems(check('{ local: { queue: x } }'))).to.include('checks[0].ticketFields.local: a local provider takes no ticket fields');
    });

    it('has each provider type check its own fields, with the field\'s path', () => {
      expect(problems(check('{ pd: { routingKey: short } }')).join('\n')).to.include('checks[0].ticketFields.pd.routingKey: must be an Events API v2 integration key');
      expect(problems(check('{ sn: { impact: "1" } }')).join('\n')).to.include('checks[0].ticketFields.sn.impact: impact is written by Prodrome itself');
    });

    it('refuses an unknown placeholder', () => {
      expect(problems(check('{ sn: { u_host: "{host}" } }'))).to.include('checks[0].ticketFields.sn.u_host: unknown placeholder {host}; known: {check}, {target}, {profile}');
    });

    it('checks a profile\'s ticket fields too', () => {
      expect(problems(`${PROVIDERS}profiles:\n  radiology: { ticketFields: { nowhere: { a: b } } }\n`)).to.include('profiles.radiology.ticketFields.nowhere: no provider "nowhere" in ticketing.providers (have: sn, pd, local)');
    });

    it('resolves an env: routing key in ticket fields', () => {
      process.env.PD_TEST_IMAGING_KEY = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
      try {
        const config = parseConfig(check('{ pd: { routingKey: "env:PD_TEST_IMAGING_KEY", component: pacs } }'));
        expect(config.checks[0]!.ticketFields).to.deep.equal({ pd: { routingKey: 'f0e1d2c3b4a5968778695a4b3c2d1e0f', component: 'pacs' } });
      } finally {
        delete process.env.PD_TEST_IMAGING_KEY;
      }
    });
  });
});

import type { ProdromeConfig } from './types.js';

/**
 * What is allowed but almost certainly not meant: `validate` prints these on stderr (and still
 * says `ok`, exit 0), `start` logs them. Each a sentence without a capital, for both places.
 */
export function configWarnings(config: ProdromeConfig): string[] {
  const warnings: string[] = [];
  if (config.checks.length === 0) warnings.push('no checks configured: this daemon watches nothing');
  else if (config.checks.every((c) => !c.enabled)) warnings.push('every check has enabled: false: this daemon watches nothing');
  for (const [id, p] of config.ticketing.providers) {
    if (p.type === 'jira' && p.options.issueType === undefined) {
      warnings.push(`ticketing.providers.${id}: issueType defaults to Incident, which only Jira Service Management projects have; for a Jira Software or Work Management project set issueType (Task, Bug)`);
    }
    if (p.type === 'servicenow' && p.options.oauthToken !== undefined) {
      warnings.push(`ticketing.providers.${id}: oauthToken is a static token, never refreshed (ServiceNow's expire after 30 minutes by default, and every ticket after that fails): use oauth: { grant, clientId, clientSecret }`);
    }
    if (p.options.tlsVerify === false) warnings.push(`ticketing.providers.${id}: tlsVerify is false: the vendor's certificate is not checked (anyone on the path can read and change tickets); use caFile for a private CA instead`);
  }
  return warnings;
}

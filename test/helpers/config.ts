import * as loader from '../../src/config/load.js';
import type { ProdromeConfig } from '../../src/config/types.js';
import { plugins } from '../../src/plugins.js';

/** The config loader with every plugin registered, as the CLI calls it. */
export function parseConfig(text: string, source = 'test'): ProdromeConfig {
  return loader.parseConfig(text, source, plugins);
}

export function loadConfig(path: string): ProdromeConfig {
  return loader.loadConfig(path, plugins);
}

/** The secrets config/examples name, as an operator would provide them. */
export const EXAMPLE_SECRETS: Record<string, string> = {
  PRODROME_REDIS_URL: 'redis://127.0.0.1:6379/2', PRODROME_ADMIN_TOKEN: 'example-admin-token', HELPDESK_HOOK_TOKEN: 'example-hook-token', EHR_CLIENT_SECRET: 'example-client-secret',
  SN_USER: 'prodrome.integration', SN_PASSWORD: 'example-sn-password', SN_CLIENT_ID: 'example-sn-client-id', SN_CLIENT_SECRET: 'example-sn-client-secret', PD_ROUTING_KEY: 'R0123456789abcdef0123456789abcde', JIRA_EMAIL: 'prodrome@example.org', JIRA_API_TOKEN: 'example-jira-token', JIRA_DC_PAT: 'example-jira-dc-pat',
  SNMP_AUTH: 'example-snmp-auth', SNMP_PRIV: 'example-snmp-priv', SNMP_COMMUNITY: 'example-community', SNMP_TRAP_COMMUNITY: 'example-trap-community',
  SMTP_USER: 'prodrome', SMTP_PASSWORD: 'example-smtp-password', ED_TEAMS_WEBHOOK: 'https://prod-00.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=example', OPS_SLACK_WEBHOOK: 'https://hooks.slack.com/services/T0/B0/example',
};

import { Registry } from '../core/registry.js';
import jira from './jira.js';
import local from './local.js';
import pagerduty from './pagerduty.js';
import servicenow from './servicenow.js';
import type { TicketPlugin } from './ticket-provider.js';
import webhook from './webhook.js';

/** Ticket providers by config `type`. A new provider is one file and one line here. */
export const ticketRegistry = new Registry<TicketPlugin>('ticket provider', [local, webhook, pagerduty, jira, servicenow]);

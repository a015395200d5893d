import { Registry } from '../core/registry.js';
import email from './email.js';
import type { NotifyPlugin } from './notify-channel.js';
import slack from './slack.js';
import teams from './teams.js';

/** Department notice channels by config `type`. A new channel is one file and one line here. */
export const notifyRegistry = new Registry<NotifyPlugin>('notice channel', [email, teams, slack]);

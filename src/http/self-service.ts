import type http from 'node:http';
import { isIP } from 'node:net';
import type { ProdromeConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { MAX_CALLBACK, plainText, type SelfService } from '../self-service/self-service.js';
import { renderAnswer, renderReportForm } from '../status/render-self-service.js';
import type { ProfileView } from '../status/profile-view.js';
import type { FormFields, HttpServer, RawResponse } from './server.js';
import { page } from './status-pages.js';

/** Largest form post: a 2000-character report percent-encoded is well under it. */
const MAX_FORM_BODY = 32 * 1024;

export interface SelfServiceRouteDeps {
  config: ProdromeConfig;
  selfService: SelfService;
  /** The profile's page now (status/status-view.ts). */
  profileView(profile: string): Promise<ProfileView | undefined>;
  metrics: Metrics;
  logger: Logger;
}

const stripMapped = (address: string) => address.replace(/^::ffff:/, '');

/**
 * The address a post came from: the peer's, or, when the peer is a trusted proxy, the last address
 * in X-Forwarded-For that is not itself a trusted proxy (what the nearest proxy saw).
 */
export function clientAddress(req: http.IncomingMessage, trusted: readonly string[]): string {
  const peer = stripMapped(req.socket.remoteAddress ?? 'unknown');
  if (!trusted.includes(peer)) return peer;
  const forwarded = String(req.headers['x-forwarded-for'] ?? '').split(',').map((a) => stripMapped(a.trim())).filter((a) => isIP(a) !== 0);
  for (let i = forwarded.length - 1; i >= 0; i--) if (!trusted.includes(forwarded[i]!)) return forwarded[i]!;
  return peer;
}

/** The signed-in person, from the configured header, only when the peer is a trusted proxy. */
function identityOf(req: http.IncomingMessage, config: ProdromeConfig): string | undefined {
  const header = config.selfService.identityHeader;
  if (!header || !config.selfService.trustedProxies.includes(stripMapped(req.socket.remoteAddress ?? ''))) return undefined;
  const value = plainText(String(req.headers[header] ?? ''), 100, true);
  return value || undefined;
}

/**
 * The post comes from a page of this server: its Origin (or, without one, its Referer) names the
 * host the browser asked for, or `http.publicUrl`'s. A post with neither is refused too.
 */
export function sameOrigin(req: http.IncomingMessage, publicUrl?: string): boolean {
  const hosts = new Set([req.headers.host, publicUrl ? new URL(publicUrl).host : undefined].filter((h): h is string => !!h).map((h) => h.toLowerCase()));
  const origin = req.headers.origin;
  if (origin === 'null') return false;
  const from = origin ?? req.headers.referer;
  if (!from) return false;
  try {
    return hosts.has(new URL(from).host.toLowerCase());
  } catch {
    return false;
  }
}

/**
 * The ward forms' routes: `GET /status/<profile>/report` (step two: what IT already knows of the
 * chosen system, then the words), `POST /status/<profile>/affected` and `POST /status/<profile>/report`.
 * No bearer token (a ward has none): the posts need this page's CSRF token, this server's origin,
 * and room in the rate limits; every refusal is a page that says what to do, and changes nothing.
 */
export function registerSelfServiceRoutes(http: HttpServer, deps: SelfServiceRouteDeps): void {
  const { config, selfService, metrics } = deps;
  const log = deps.logger.child({ component: 'self-service' });
  const settings = config.selfService;
  const answer = (status: number, profile: string, heading: string, lines: string[], extra: { urgentHint?: boolean; headers?: Record<string, string> } = {}): RawResponse => {
    const p = config.profiles.get(profile);
    const out = page(status, renderAnswer({ profile, title: `${p?.description ?? profile} — ${heading}`, heading, lines, ...(settings.phone ? { phone: settings.phone } : {}), ...(extra.urgentHint ? { urgentHint: true } : {}) }));
    return { ...out, headers: { ...out.headers, ...extra.headers } };
  };
  const notFound = (profile: string) => page(404, renderAnswer({ profile, title: 'Not found', heading: 'No such page', lines: ['There is no form here. Go back to your status page.'] }));
  const tooLarge = (): RawResponse => page(413, renderAnswer({ profile: '', title: 'Too long', heading: 'That was too long', lines: ['The form sent more than this page takes. Shorten the description and send it again.'] }));

  /** The checks every post passes, in order; undefined when it may go on. */
  async function gate(kind: 'affected' | 'report', req: http.IncomingMessage, profile: string, form: string, body: FormFields | undefined): Promise<RawResponse | undefined> {
    if (!body) {
      metrics.selfService.inc({ kind, result: 'invalid' });
      return answer(400, profile, 'Not sent', ['The page did not send a form. Go back to the status page and try again.']);
    }
    if (!sameOrigin(req, config.http.publicUrl)) {
      metrics.selfService.inc({ kind, result: 'refused' });
      log.warn('Ward form refused: not from this server\'s pages', { profile, kind, origin: req.headers.origin ?? null });
      return answer(403, profile, 'Not accepted', ['This form was not sent from the status page, so it was not accepted. Nothing was changed.', 'Open the status page and use the button there.'], { urgentHint: true });
    }
    const token = await selfService.tokens.spend(body.csrf, profile, form);
    if (token !== 'ok') {
      metrics.selfService.inc({ kind, result: 'refused' });
      log.warn('Ward form refused: CSRF token', { profile, kind, token });
      return answer(403, profile, 'Not accepted', [
        token === 'used' ? 'This form was already sent once. Nothing more was changed.' : 'This form has expired or did not come from the status page, so it was not accepted. Nothing was changed.',
        'Go back to the status page, reload it and try again.',
      ], { urgentHint: true });
    }
    const limited = await selfService.limits.take(kind, clientAddress(req, settings.trustedProxies), profile);
    if (limited) {
      metrics.selfService.inc({ kind, result: 'limited' });
      log.warn('Ward form over its rate limit', { profile, kind, limit: limited });
      return answer(429, profile, 'Please wait a minute', [
        limited === 'address'
          ? `Too many ${kind === 'report' ? 'reports' : 'presses'} from this computer in the last minute (at most ${settings.perAddress}). Nothing was sent.`
          : `Too many ${kind === 'report' ? 'reports' : 'presses'} from this department's page in the last minute (at most ${settings.perProfile}). Nothing was sent.`,
        'Wait a minute, then reload the status page and try again.',
      ], { urgentHint: true, headers: { 'retry-after': '60' } });
    }
    return undefined;
  }

  http.route('GET', '/status/:profile/report', async (_req, params) => {
    const profile = params.profile!;
    const view = settings.enabled ? await deps.profileView(profile) : undefined;
    if (!view) return notFound(profile);
    const forms = await selfService.forms(view);
    const system = params.system === 'other' ? { id: 'other', name: 'Something else' } : forms.systems.find((s) => s.id === params.system);
    if (!system) return answer(400, profile, 'Choose a system', ['Choose the system from the list on the status page, or "Something else".']);
    const known = view.lines.find((l) => l.checkId === system.id && l.known);
    return page(200, renderReportForm({
      view, forms, system, ...(known ? { known } : {}),
      ...(known?.known ? { affectedToken: forms.affected[known.known.incidentId] } : {}),
      reportToken: await selfService.tokens.issue(profile, 'report'), maxText: settings.maxText, maxCallback: MAX_CALLBACK,
    }));
  });

  http.route('POST', '/status/:profile/affected', async (req, params, body) => {
    const profile = params.profile!;
    if (!settings.enabled || !config.profiles.has(profile)) return notFound(profile);
    const fields = body as FormFields | undefined;
    const incident = fields?.incident ?? '';
    const refused = await gate('affected', req, profile, `affected:${incident}`, fields);
    if (refused) return refused;
    const result = await selfService.pressAffected(profile, incident);
    metrics.selfService.inc({ kind: 'affected', result: 'accepted' });
    if (result.outcome === 'not-failing') return answer(200, profile, 'Thank you', ['That problem has ended, or the system is working again.', 'The status page shows how things stand now.']);
    const { line, count } = result;
    return answer(200, profile, 'Thank you — IT knows', [
      `${line.name}: ${line.says}.`,
      `${count === 1 ? '1 person' : `${count} people`} in your department ${count === 1 ? 'has' : 'have'} said it affects them; IT sees this on the ticket${line.known?.ticket ? ` ${line.known.ticket}` : ''}.`,
      ...(result.raised ? ['IT has raised the urgency of this problem.'] : []),
    ]);
  }, { token: false, form: true, maxBody: MAX_FORM_BODY, tooLarge });

  http.route('POST', '/status/:profile/report', async (req, params, body) => {
    const profile = params.profile!;
    if (!settings.enabled || !config.profiles.has(profile)) return notFound(profile);
    const fields = body as FormFields | undefined;
    const refused = await gate('report', req, profile, 'report', fields);
    if (refused) return refused;
    const result = await selfService.report(profile, { system: fields!.system, text: fields!.text, callback: fields!.callback }, Date.now(), identityOf(req, config));
    if (result.outcome === 'invalid') {
      metrics.selfService.inc({ kind: 'report', result: 'invalid' });
      return answer(400, profile, 'Not sent', [result.reason, 'Go back to the status page and try again.']);
    }
    metrics.selfService.inc({ kind: 'report', result: 'accepted' });
    if (result.outcome === 'joined') {
      return answer(200, profile, 'Thank you — IT already knows', [
        `${result.line.name}: ${result.line.says}.`,
        `Your words were added to ${result.line.known?.ticket ? `ticket ${result.line.known.ticket}` : 'the ticket'}.`,
      ]);
    }
    return answer(200, profile, 'Thank you — IT has your report', [
      result.ticket ? `Your report about ${result.system} is ticket ${result.ticket} (received at ${result.at}).` : `Your report about ${result.system} was received at ${result.at}.`,
      result.ticket ? 'The status page lists it until IT is done.' : 'Its ticket number will show on the status page in a moment.',
    ], { urgentHint: true });
  }, { token: false, form: true, maxBody: MAX_FORM_BODY, tooLarge });
}

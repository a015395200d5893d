import type { ProdromeConfig } from '../config/types.js';
import type { Report } from '../report/report-types.js';
import { renderItPage } from '../status/render-it.js';
import { renderProfilePage, renderUnknownProfilePage } from '../status/render-profile.js';
import type { IncidentSource, MaintenanceSource, StateSource } from '../status/snapshot.js';
import type { ItAgents } from '../status/it-view.js';
import { StatusViews, type ProfileView } from '../status/status-view.js';
import type { HttpServer, RawResponse } from './server.js';

export interface StatusPageDeps {
  config: ProdromeConfig;
  states: StateSource;
  store: IncidentSource;
  latency: { samples(checkId: string): number[] };
  /** The help-desk report behind the IT page's headline figures (cached there for a minute). */
  headline: () => Promise<Report | undefined>;
  /** The live agents and the checks none may run, for the IT page. */
  agents?: () => ItAgents;
  /** The ward forms, when selfService is on: they add their forms to each profile's page. */
  forms?: (view: ProfileView) => Promise<ProfileView['forms']>;
  /** Maintenance windows and silences in force, shown on both pages. */
  maintenance?: MaintenanceSource;
}

/**
 * Nothing but inline styles and inline SVG may load, nothing may be sniffed, nothing cached: a page
 * read on a ward PC must show the state of now, not of the last visit. Nothing may frame a page
 * (a page of another site laying it under its own buttons), a form may post only here, and no
 * <base> may move the page's links: `frame-ancestors`, `form-action` and `base-uri` are not
 * covered by `default-src`, so each is said; X-Frame-Options for browsers older than CSP 2.
 */
const PAGE_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

export function page(status: number, body: string): RawResponse {
  return { status, body, contentType: 'text/html; charset=utf-8', headers: PAGE_HEADERS };
}

/** `GET /status` for IT and `GET /status/<profile>` for clinicians: read-only, no token. */
export function registerStatusPages(http: HttpServer, deps: StatusPageDeps): StatusViews {
  const views = new StatusViews({ config: deps.config, states: deps.states, incidents: deps.store, latency: deps.latency, headline: deps.headline, ...(deps.agents ? { agents: deps.agents } : {}), ...(deps.maintenance ? { maintenance: deps.maintenance } : {}) });

  http.route('GET', '/status', async () => page(200, renderItPage(await views.it())));

  http.route('GET', '/status/:profile', async (_req, params) => {
    const view = await views.profile(params.profile!);
    if (view) {
      const forms = await deps.forms?.(view).catch(() => undefined);
      return page(200, renderProfilePage(forms ? { ...view, forms } : view));
    }
    const known = [...deps.config.profiles.values()].map((p) => ({ name: p.name, ...(p.description ? { description: p.description } : {}) }));
    return page(404, renderUnknownProfilePage(params.profile!, known));
  });
  return views;
}

import { escapeHtml as e, layout, REFRESH_SECONDS } from './html.js';
import { affectedForm, FORMS_CSS, reportSection } from './render-self-service.js';
import type { ProfileView } from './profile-view.js';

// Big type and strong colours: read from across a ward, on an old PC or a phone. The words carry
// the state too, so colour is never the only signal.
const CSS = `
body{font-size:1.35rem;background:#fff}
main{max-width:52rem}
h1{font-size:2rem}
.banner{font-size:1.6rem;font-weight:700;padding:.9rem 1.1rem;border-radius:.5rem;color:#fff;background:var(--tone);margin:0 0 1rem}
.systems{list-style:none;margin:0;padding:0}
.systems li{padding:.8rem 1rem;margin:0 0 .6rem;border-left:.6rem solid var(--tone);background:#f6f7f9;border-radius:.3rem}
.systems .name{font-weight:700}
.updated{font-size:1rem;color:#555;margin-top:1.4rem}
@media (max-width:640px){body{font-size:1.2rem}h1{font-size:1.6rem}.banner{font-size:1.3rem}}`;

/** A clinician's page: the banner, then one plain line per system. */
export function renderProfilePage(view: ProfileView): string {
  // With the ward forms on, each failing system has its "This affects me" (posting to /status/<profile>/affected).
  const action = `${encodeURIComponent(view.profile)}/affected`;
  const press = (l: ProfileView['lines'][number]) => (view.forms && l.known && view.forms.affected[l.known.incidentId] ? affectedForm(action, l, view.forms.affected[l.known.incidentId]!) : '');
  const lines = view.lines.map((l) => `<li class="${l.tone}"><span class="name">${e(l.name)}:</span> <span class="says">${e(l.says)}</span>${press(l)}</li>`);
  const body = `<h1>${e(view.title)}</h1>
<p class="banner ${view.banner.tone}" role="status">${e(view.banner.text)}</p>
${lines.length ? `<ul class="systems">\n${lines.join('\n')}\n</ul>` : ''}
${view.forms ? reportSection(view, view.forms) : ''}
<p class="updated">Updated at ${e(view.updated)}. This page refreshes itself every ${REFRESH_SECONDS} seconds.</p>`;
  return layout({ title: `${view.title} — systems`, body, css: view.forms ? CSS + FORMS_CSS : CSS });
}

/** The answer to a profile the config does not name: the ones it does, as links. */
export function renderUnknownProfilePage(asked: string, profiles: readonly { name: string; description?: string }[]): string {
  const items = profiles.map((p) => `<li><a href="${e(encodeURIComponent(p.name))}">${e(p.description ?? p.name)}</a></li>`);
  const body = `<h1>No page called “${e(asked)}”</h1>
${items.length ? `<p>These pages exist:</p>\n<ul>${items.join('')}</ul>` : '<p>No pages for clinicians are set up yet.</p>'}`;
  return layout({ title: 'Page not found', body, css: CSS, refresh: false });
}

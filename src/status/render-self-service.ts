import { escapeHtml as e, layout } from './html.js';
import type { ProfileForms, ProfileLine, ProfileView } from './profile-view.js';

/** The forms' looks: big targets for a thumb, the page's own type sizes. */
export const FORMS_CSS = `
form.affected{margin:.5rem 0 0}
button{font:inherit;font-size:1.1rem;padding:.55rem 1rem;border-radius:.4rem;border:2px solid #0b57d0;background:#0b57d0;color:#fff;cursor:pointer;min-height:2.75rem}
button.quiet{background:#fff;color:#0b57d0}
label{display:block;font-weight:700;margin:.9rem 0 .3rem}
select,textarea,input[type=text]{font:inherit;font-size:1.1rem;width:100%;padding:.5rem;border:1px solid #8a8f98;border-radius:.3rem;background:#fff}
textarea{min-height:7rem}
.report{margin-top:1.8rem;padding:1rem;background:#f6f7f9;border-radius:.4rem}
.report h2{margin-top:0}
.answer{font-size:1.4rem;font-weight:700}
.reports li{margin:.3rem 0}`;

const back = (profile: string) => `<p><a href="../${e(encodeURIComponent(profile))}">Back to the status page</a></p>`;
const urgent = (phone?: string) => `<p class="muted">If it is urgent, call the IT help desk${phone ? ` on <strong>${e(phone)}</strong>` : ''}.</p>`;

/** "This affects me" under a failing system (a plain form post: no script needed). */
export function affectedForm(action: string, line: ProfileLine, token: string): string {
  return `<form class="affected" method="post" action="${e(action)}"><input type="hidden" name="incident" value="${e(line.known!.incidentId)}"><input type="hidden" name="csrf" value="${e(token)}"><button type="submit">This affects me</button></form>`;
}

/** Under the systems: which one is wrong (a GET to the next step, where any known problem shows first), and the open reports. */
export function reportSection(view: ProfileView, forms: ProfileForms): string {
  const options = forms.systems.map((s) => `<option value="${e(s.id)}">${e(s.name)}</option>`).join('');
  const reports = forms.reports.length
    ? `<h3>Reported by your colleagues</h3><ul class="reports">${forms.reports.map((r) => `<li>${e(r.at)} — ${e(r.system)}: IT has it${r.ticket ? ` (${e(r.ticket)})` : ''}</li>`).join('')}</ul>`
    : '';
  return `<section class="report">
<h2>Something not working?</h2>
<form method="get" action="${e(encodeURIComponent(view.profile))}/report">
<label for="system">Which system?</label>
<select id="system" name="system">${options}<option value="other">Something else</option></select>
<p><button type="submit">Report a problem</button></p>
</form>
${reports}
</section>`;
}

/** Step two of a report: what IT already knows of that system, then the words. */
export function renderReportForm(options: {
  view: ProfileView; forms: ProfileForms; system: { id: string; name: string }; known?: ProfileLine; affectedToken?: string; reportToken: string; maxText: number; maxCallback: number;
}): string {
  const { view, system, known } = options;
  const knownPart = known?.known && options.affectedToken
    ? `<p class="answer">IT already knows — ${e(system.name)}: ${e(known.says)}.</p>
${affectedForm('affected', known, options.affectedToken)}
<p>Is it something else about ${e(system.name)}? Tell IT below.</p>`
    : '';
  const body = `<h1>${e(view.title)}: report a problem</h1>
${knownPart}
<form method="post" action="report">
<input type="hidden" name="system" value="${e(system.id)}"><input type="hidden" name="csrf" value="${e(options.reportToken)}">
<p><strong>System:</strong> ${e(system.name)}</p>
<label for="text">What is wrong?</label>
<textarea id="text" name="text" maxlength="${options.maxText}" required></textarea>
<label for="callback">Where and how can IT call you back? (optional)</label>
<input type="text" id="callback" name="callback" maxlength="${options.maxCallback}" autocomplete="off">
<p><button type="submit">Send to IT</button></p>
</form>
${urgent(options.forms.phone)}
${back(view.profile)}`;
  return layout({ title: `${view.title} — report a problem`, body, css: FORMS_CSS, refresh: false });
}

/** The answer to a form: one sentence of what IT knows, and the way back. */
export function renderAnswer(options: { profile: string; title: string; heading: string; lines: string[]; phone?: string; urgentHint?: boolean }): string {
  const body = `<h1>${e(options.heading)}</h1>
${options.lines.map((l, i) => `<p${i === 0 ? ' class="answer"' : ''}>${e(l)}</p>`).join('\n')}
${options.urgentHint ? urgent(options.phone) : ''}
${back(options.profile)}`;
  return layout({ title: options.title, body, css: FORMS_CSS, refresh: false });
}

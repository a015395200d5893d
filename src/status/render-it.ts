import type { CheckStatus } from '../messages/state-change.js';
import type { Report } from '../report/report-types.js';
import { clockTime, localTimeZone, spoken } from './clock.js';
import type { Headline } from './headline-cache.js';
import { escapeHtml as e, layout, REFRESH_SECONDS, sparkline } from './html.js';
import type { ItAgentRow, ItCheckRow, ItHealRow, ItIncidentRow, ItReportRow, ItView } from './it-view.js';

const TONE: Record<CheckStatus, string> = { critical: 'bad', warning: 'warn', unknown: 'idle', ok: 'ok' };
const HEAL_TONE: Record<ItHealRow['result'], string> = { healed: 'ok', running: 'warn', failed: 'bad', timeout: 'bad', skipped: 'idle' };

const CSS = `
.summary .badge{margin-right:.3rem}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.6rem;margin:0}
.figures div{background:#fff;padding:.6rem .8rem;border-radius:.4rem;border:1px solid #e1e3e6}
.figures dt{font-size:.85rem;color:#444}
.figures dd{margin:0;font-size:1.5rem;font-weight:600}
.target{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere}
ul.problems{margin:.2rem 0 0;padding-left:1.1rem;overflow-wrap:anywhere}
.spark{display:block}
.profiles li{margin:.3rem 0}`;

const badge = (tone: string, text: string) => `<span class="badge ${tone}">${e(text)}</span>`;
const cell = (label: string, html: string, className?: string) => `<td data-label="${e(label)}"${className ? ` class="${className}"` : ''}>${html}</td>`;

function when(at: number | undefined, now: number): string {
  if (at === undefined) return '—';
  return `<time datetime="${e(new Date(at).toISOString())}">${e(clockTime(at, now, localTimeZone()))}</time>`;
}

function table(headers: string[], rows: string[]): string {
  return `<table><thead><tr>${headers.map((h) => `<th scope="col">${e(h)}</th>`).join('')}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

function figures(report: Report): string {
  const days = Math.max(1, Math.round((Date.parse(report.to) - Date.parse(report.from)) / 86_400_000));
  const items: [string, string][] = [
    ['Incidents', String(report.incidents)],
    ['Healed automatically', `${Math.round(report.healedShare * 100)} %`],
    ['Time to ticket (median)', spoken(report.timeToTicket.p50)],
    ['Time to resolve (median)', spoken(report.timeToResolve.p50)],
    ['After hours', String(report.afterHours.incidents)],
    ...(report.selfService.reports || report.selfService.affectedPresses ? [['Reports from staff', `${report.selfService.reports} (${report.selfService.joinedKnown} joined)`] as [string, string]] : []),
  ];
  return `<h2 id="headline">Last ${days} day${days === 1 ? '' : 's'}</h2>
<dl class="figures">${items.map(([k, v]) => `<div><dt>${e(k)}</dt><dd>${e(v)}</dd></div>`).join('')}</dl>`;
}

function headlineSection(headline: Headline): string {
  if ('report' in headline) return figures(headline.report);
  return `<h2 id="headline">Last 7 days</h2>\n<p class="muted">${e(headline.unavailable)}</p>`;
}

function incidentsSection(incidents: ItView['incidents'], now: number): string {
  const head = '<h2 id="incidents">Open incidents</h2>';
  if ('unavailable' in incidents) return `${head}\n<p class="note">${e(incidents.unavailable)}</p>`;
  if (!incidents.length) return `${head}\n<p>No open incidents.</p>`;
  const row = (i: ItIncidentRow) => `<tr class="${i.severity === 'critical' ? 'bad' : 'warn'}">${[
    cell('Priority', badge(i.severity === 'critical' ? 'bad' : 'warn', i.priority)),
    cell('Ticket', i.tickets.length ? i.tickets.map(e).join('<br>') : `<span class="muted">${i.ticketErrors ? 'not delivered' : 'none yet'}</span>`, 'nowrap'),
    cell('System', `${e(i.name)} <span class="muted nowrap">${e(i.checkId)}</span>`),
    cell('Target', `<span class="target">${e(i.target)}</span>`),
    cell('Since', when(i.since, now), 'nowrap'),
    cell('What', [e(i.title), ...(i.healing ? ['<strong>healer running</strong>'] : []), ...(i.affected ? [`${i.affected} affected`] : []), ...i.notes.map(e)].join('<br>'), 'long'),
  ].join('')}</tr>`;
  return `${head}\n${table(['Priority', 'Ticket', 'System', 'Target', 'Since', 'What'], incidents.map(row))}`;
}

function targetsText(c: ItCheckRow): string {
  if (c.total === 1) return '1 target';
  const failing = c.counts.critical + c.counts.warning;
  return failing ? `${failing} of ${c.total} failing` : `${c.total} targets`;
}

function problemsList(c: ItCheckRow): string {
  if (!c.problems.length) return '';
  const items = c.problems.map((p) => `<li><span class="target">${e(p.target)}</span>${p.pending ? ` <strong>${e(p.pending)}</strong>` : ''}${p.message ? `: ${e(p.message)}` : ''}${p.heldBy ? ` <span class="muted">(held by ${e(p.heldBy)})</span>` : ''}</li>`);
  if (c.moreProblems) items.push(`<li class="muted">and ${c.moreProblems} more</li>`);
  return `<ul class="problems">${items.join('')}</ul>`;
}

/** "planned maintenance until 02:00 (maintenance window ehr-patching: EHR weekly patching)". */
function maintenanceNote(c: ItCheckRow, now: number): string {
  if (!c.maintenance) return '';
  return `<p class="note">planned maintenance until ${when(c.maintenance.until, now)} (${e(c.maintenance.reason)})</p>`;
}

function stateBadge(c: ItCheckRow): string {
  if (!c.enabled) return badge('idle', 'off');
  return c.confirming ? badge('warn', 'confirming') : badge(TONE[c.status], c.status);
}

function checksSection(checks: ItCheckRow[], now: number): string {
  const row = (c: ItCheckRow) => `<tr>${[
    cell('State', stateBadge(c)),
    cell('System', `${e(c.name)} <span class="muted nowrap">${e(c.id)} · ${e(c.type)}</span>${maintenanceNote(c, now)}${problemsList(c)}`),
    cell('Targets', e(targetsText(c))),
    cell('Since', when(c.since, now), 'nowrap'),
    cell('Latency', sparkline(c.latency)),
  ].join('')}</tr>`;
  return `<h2 id="checks">Checks</h2>\n${table(['State', 'System', 'Targets', 'Since', 'Latency'], checks.map(row))}`;
}

function healsSection(heals: ItView['heals'], now: number): string {
  const head = '<h2 id="heals">Recent heals</h2>';
  if ('unavailable' in heals) return `${head}\n<p class="note">${e(heals.unavailable)}</p>`;
  if (!heals.length) return `${head}\n<p>No heal attempts recently.</p>`;
  const row = (h: ItHealRow) => `<tr>${[
    cell('When', when(h.at, now), 'nowrap'),
    cell('System', `${e(h.name)} <span class="target">${e(h.target)}</span>`),
    cell('Healer', e(h.healer)),
    cell('Result', badge(HEAL_TONE[h.result], h.result)),
    cell('Message', e(h.message), 'long'),
  ].join('')}</tr>`;
  return `${head}\n${table(['When', 'System', 'Healer', 'Result', 'Message'], heals.map(row))}`;
}

/** Staff reports from the ward pages: when, who, about what, their words (as text), the ticket. */
function reportsSection(reports: ItView['reports'], now: number): string {
  if (!('unavailable' in reports) && !reports.length) return '';
  const head = '<h2 id="reports">Reports from staff</h2>';
  if ('unavailable' in reports) return `${head}\n<p class="note">${e(reports.unavailable)}</p>`;
  const row = (r: ItReportRow) => `<tr>${[
    cell('When', when(r.at, now), 'nowrap'),
    cell('Department', e(r.department)),
    cell('System', e(r.system)),
    cell('Ticket', r.tickets.length ? r.tickets.map(e).join('<br>') : '<span class="muted">none yet</span>', 'nowrap'),
    cell('What they say', `${e(r.text)}${r.open ? '' : ' <span class="muted">(closed on the pages)</span>'}`, 'long'),
  ].join('')}</tr>`;
  return `${head}\n${table(['When', 'Department', 'System', 'Ticket', 'What they say'], reports.map(row))}`;
}

/**
 * Shown when several agents share the work, or when some checks have no agent at all: which
 * agents are live, where, and how many checks each runs.
 */
function agentsSection(agents: ItView['agents'], now: number): string {
  if (!agents || (agents.live.length < 2 && !agents.unassigned)) return '';
  const head = '<h2 id="agents">Agents</h2>';
  const warning = agents.unassigned
    ? `<p class="note">${badge('bad', `${agents.unassigned} check${agents.unassigned === 1 ? '' : 's'} unwatched`)} no live agent may run ${agents.unassigned === 1 ? 'it' : 'them'}: the agent ${agents.unassigned === 1 ? 'it is' : 'they are'} pinned to, or every agent of ${agents.unassigned === 1 ? 'its' : 'their'} site, is gone.</p>`
    : '';
  const row = (a: ItAgentRow) => `<tr>${[
    cell('Agent', `${e(a.id)}${a.self ? ' <span class="muted">(this page)</span>' : ''}`),
    cell('Site', e(a.site ?? '—')),
    cell('Role', e(a.role)),
    cell('Checks', String(a.checks)),
    cell('Last heartbeat', `${Math.max(0, Math.round((now - a.heartbeatAt) / 1000))} s ago`, 'nowrap'),
  ].join('')}</tr>`;
  return `${head}
${warning}
${table(['Agent', 'Site', 'Role', 'Checks', 'Last heartbeat'], agents.live.map(row))}`;
}

function profilesSection(profiles: ItView['profiles']): string {
  if (!profiles.length) return '';
  // Relative links, so the pages work behind a reverse proxy that serves them under a path.
  const items = profiles.map((p) => `<li><a href="status/${e(encodeURIComponent(p.name))}">${e(p.description ?? p.name)}</a> <span class="muted">${e(p.name)} · ${p.systems} system${p.systems === 1 ? '' : 's'}</span></li>`);
  return `<h2 id="profiles">Pages for clinicians</h2>\n<ul class="profiles">${items.join('')}</ul>`;
}

/** The IT page: a whole HTML document. */
export function renderItPage(view: ItView): string {
  const { counts, now } = view;
  const summary = [
    ...(['critical', 'warning'] as const).map((s) => badge(TONE[s], `${counts[s]} ${s}`)),
    ...(view.confirming ? [badge('warn', `${view.confirming} confirming`)] : []),
    ...(['unknown', 'ok'] as const).map((s) => badge(TONE[s], `${counts[s]} ${s}`)),
  ].join(' ');
  const body = `<header>
<h1>Prodrome — IT status</h1>
<p class="muted">Updated ${when(now, now)} (${e(localTimeZone())}) · refreshes every ${REFRESH_SECONDS} s</p>
<p class="summary">${summary}</p>
</header>
<section>${headlineSection(view.headline)}</section>
<section>${incidentsSection(view.incidents, now)}</section>
<section>${checksSection(view.checks, now)}</section>
<section>${healsSection(view.heals, now)}</section>
<section>${reportsSection(view.reports, now)}</section>
<section>${agentsSection(view.agents, now)}</section>
<section>${profilesSection(view.profiles)}</section>`;
  return layout({ title: 'Prodrome — IT status', body, css: CSS });
}

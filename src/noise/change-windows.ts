import type { Redis } from 'ioredis';
import type { CheckConfig } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { peerLine } from '../core/peer-text.js';
import { clipRedacted } from '../core/secrets.js';
import { vendorHttp, type VendorConnection } from '../vendors/http-client.js';
import { serviceNowAuthFor, type ServiceNowAuth, type ServiceNowCredentials } from '../vendors/servicenow-auth.js';
import type { AxiosInstance } from 'axios';
import { MAX_SILENCE_AHEAD_MS, type Silence, type SilenceStore } from './silences.js';

/*
 * Approved, scheduled change requests in ServiceNow become silences for the checks on their
 * configuration item (`cmdbCi` on a check), for the change's planned window.
 *
 * - Per distinct CI every round: the changes whose primary CI it is,
 *   `change_request?sysparm_query=cmdb_ci=<sys_id>^stateIN-2,-1^approval=approved` (a CI given by
 *   name: `cmdb_ci.name=<name>`), states -2 Scheduled and -1 Implement; and the changes that list
 *   it among their affected CIs (table `task_ci`: `ci_item=<sys_id>` with the same conditions
 *   dot-walked through `task.`), read by sys_id.
 * - A change still in Implement when its planned end has passed (the work overran) keeps its
 *   silence, a round or two ahead at a time, until it leaves Implement or `overrun` past its end.
 * - Every call goes through the provider's own HTTP client and sign-in (src/vendors): its proxy,
 *   CAs and OAuth token, so the change calendar loads wherever tickets get through.
 * - `start_date` / `end_date` are read as UTC: the Table API returns a date-time's stored value,
 *   which is UTC, unless display values are asked for (they would be in the integration user's
 *   zone), and this client pins `sysparm_display_value=false`.
 * - Each change is one silence, `chg-<number>`, reason the CHG number, upserted: the next round,
 *   another agent, or a restart writes the same record again. A change that is moved is moved;
 *   one that is no longer returned for its CI (cancelled, unapproved, back to assessment) has its
 *   silence removed — only after a round in which that CI's query succeeded.
 * - A failed round (instance down, 401, bad JSON) is logged and tried again next round; the
 *   silences already stored stay until their end. Nothing is thrown to the daemon.
 */

const TABLE = '/api/now/table/change_request';
const TASK_CI = '/api/now/table/task_ci';
const FIELDS = 'number,start_date,end_date,cmdb_ci,state';
const SYS_ID = /^[0-9a-f]{32}$/i;
/** `^` separates conditions of an encoded query and a line break ends it: such a name cannot be asked for safely. */
const UNSAFE_IN_QUERY = /[\^\r\n]/;
/** `YYYY-MM-DD HH:MM:SS`, as the Table API writes a glide_date_time value. */
const SN_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
/** CHG0030001; anything else in `number` is not used as an id. */
const CHANGE_NUMBER = /^[A-Za-z0-9_-]{1,40}$/;
/** Most records read per CI and round. */
const PAGE = 500;
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The ServiceNow provider's options that this reader uses: the servicenow ticket provider's own
 * parsed options object (so it shares the provider's OAuth token), or the same fields in a test.
 */
export type ServiceNowAccess = ServiceNowCredentials & VendorConnection & {
  /** Per request, ms. Default 10s. */
  timeout?: number;
};

/** How long a change still in Implement keeps its silence past its planned end, unless configured. */
export const DEFAULT_OVERRUN_MS = 2 * 3_600_000;

export interface ChangeWindowOptions {
  /** The checks; only those with `cmdbCi` are looked up. */
  checks: readonly Pick<CheckConfig, 'id' | 'cmdbCi'>[];
  access: ServiceNowAccess;
  store: SilenceStore;
  logger: Logger;
  /** Between rounds. */
  everyMs: number;
  /** With `prefix`: agents sharing this Redis take turns, one round per `everyMs` between them. */
  redis?: Redis;
  prefix?: string;
  /** Names this agent on the round's lock. */
  agentId?: string;
  /** How long past its planned end a change still in Implement stays a silence. Default 2h. */
  overrunMs?: number;
  /** A change window stored for the first time (not on every round's rewrite). */
  onNewSilence?(silence: Silence): void;
}

export interface PollSummary {
  /** Changes stored (new or rewritten) as silences. */
  stored: string[];
  /** Silences removed because their change is no longer approved and scheduled. */
  removed: string[];
  /** CIs whose query failed this round. */
  failed: string[];
}

/** `YYYY-MM-DD HH:MM:SS` in UTC → epoch ms; undefined for anything else (empty, a display value). */
export function parseServiceNowDateTime(text: unknown): number | undefined {
  const m = typeof text === 'string' ? SN_DATE_TIME.exec(text.trim()) : null;
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 2026-02-31 over into March: such a value is refused instead.
  const back = new Date(ms);
  return back.getUTCMonth() === mo - 1 && back.getUTCDate() === d && h < 24 && mi < 60 && s < 60 ? ms : undefined;
}

/** The encoded query for approved changes in Scheduled or Implement on one CI (sys_id or name). */
export function changeQueryFor(cmdbCi: string): string {
  const ci = SYS_ID.test(cmdbCi) ? `cmdb_ci=${cmdbCi.toLowerCase()}` : `cmdb_ci.name=${cmdbCi}`;
  return `${ci}^stateIN-2,-1^approval=approved`;
}

/** The silence id of a change request. */
export const changeSilenceId = (number: string): string => `chg-${number}`;

/** The encoded query for the affected-CI rows (task_ci) of approved changes in Scheduled or Implement on one CI. */
export function affectedQueryFor(cmdbCi: string): string {
  const ci = SYS_ID.test(cmdbCi) ? `ci_item=${cmdbCi.toLowerCase()}` : `ci_item.name=${cmdbCi}`;
  return `${ci}^task.stateIN-2,-1^task.approval=approved`;
}

const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as { value?: unknown }).value === 'string' ? (v as { value: string }).value : undefined;

/** Reads ServiceNow's change calendar into silences, every `everyMs`, until stopped. */
export class ChangeWindowPoller {
  private readonly log: Logger;
  /** CI → the ids of the checks on it. */
  private readonly byCi = new Map<string, string[]>();
  private readonly http: AxiosInstance;
  private readonly auth: ServiceNowAuth;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly failing = new Set<string>();
  /** Warnings already given about a change record, so each round does not repeat them. */
  private readonly warned = new Set<string>();

  constructor(private readonly options: ChangeWindowOptions) {
    this.log = options.logger.child({ component: 'change-windows' });
    for (const check of options.checks) {
      if (!check.cmdbCi) continue;
      if (!SYS_ID.test(check.cmdbCi) && UNSAFE_IN_QUERY.test(check.cmdbCi)) {
        this.log.error('CI name cannot be looked up in ServiceNow (it holds "^" or a line break): give its sys_id instead', { check: check.id });
        continue;
      }
      const ci = SYS_ID.test(check.cmdbCi) ? check.cmdbCi.toLowerCase() : check.cmdbCi;
      this.byCi.set(ci, [...(this.byCi.get(ci) ?? []), check.id]);
    }
    const { access } = options;
    this.http = vendorHttp(access, { baseURL: access.instance.replace(/\/+$/, ''), timeout: access.timeout ?? DEFAULT_TIMEOUT_MS, headers: { accept: 'application/json' } });
    this.auth = serviceNowAuthFor(access, this.http, this.log);
  }

  /**
   * Polls now and then every `everyMs` (timers unref'd: they never keep the process alive);
   * `onChange` runs after a round that stored or removed a silence.
   */
  start(onChange: () => void = () => {}): void {
    if (this.timer || this.byCi.size === 0) return;
    const tick = () => {
      this.running = this.round()
        .then((summary) => {
          if (summary && (summary.stored.length || summary.removed.length)) onChange();
        })
        .catch((err) => this.log.error('Change window round failed', { error: errorMessage(err) }))
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.options.everyMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round for every CI; never throws for ServiceNow's faults (they are in `failed` and logged). */
  async pollOnce(now = Date.now()): Promise<PollSummary> {
    const summary: PollSummary = { stored: [], removed: [], failed: [] };
    const answered = new Set<string>();
    // By silence id: a change found under two CIs (one check names it, another gives its sys_id) silences both.
    const found = new Map<string, Silence>();
    for (const [ci, checks] of this.byCi) {
      let rows: Record<string, unknown>[];
      try {
        rows = await this.changesOn(ci);
        answered.add(ci);
        if (this.failing.delete(ci)) this.log.info('ServiceNow change requests readable again', { cmdbCi: ci });
      } catch (err) {
        summary.failed.push(ci);
        // Once per outage at error level: a 5-minute poll against a dead instance should not flood the log.
        const first = !this.failing.has(ci);
        this.failing.add(ci);
        this.log[first ? 'error' : 'debug']('Cannot read change requests from ServiceNow; trying again next round', { cmdbCi: ci, error: errorMessage(err) });
        continue;
      }
      for (const silence of this.silencesFrom(rows, ci, checks, now)) {
        const known = found.get(silence.id);
        found.set(silence.id, known ? { ...silence, checks: [...new Set([...known.checks, ...silence.checks])] } : silence);
      }
    }
    const known = found.size && this.options.onNewSilence ? new Set((await this.options.store.list(now)).map((s) => s.id)) : undefined;
    for (const silence of found.values()) {
      await this.options.store.upsert(silence, now);
      summary.stored.push(silence.id);
      if (known && !known.has(silence.id)) this.options.onNewSilence!(silence);
    }
    summary.removed = await this.removeWithdrawn(new Set(found.keys()), answered, now);
    return summary;
  }

  /** One round, unless another agent on the same Redis has just done it. */
  private async round(): Promise<PollSummary | undefined> {
    const { redis, prefix, everyMs } = this.options;
    if (redis && prefix) {
      // A little under the period, so the agent whose timer fires first next time is not locked out.
      const taken = await redis.set(`${prefix}:change-windows:round`, this.options.agentId ?? String(process.pid), 'PX', Math.max(1_000, Math.floor(everyMs * 0.9)), 'NX');
      if (taken !== 'OK') return undefined;
    }
    return this.pollOnce();
  }

  /** The approved changes in Scheduled or Implement whose primary CI is `ci`, or that list it among their affected CIs. */
  private async changesOn(ci: string): Promise<Record<string, unknown>[]> {
    const primary = await this.list(TABLE, changeQueryFor(ci), FIELDS);
    const affected = await this.list(TASK_CI, affectedQueryFor(ci), 'task');
    const known = new Set(primary.map((r) => text(r.sys_id)));
    const more = [...new Set(affected.map((r) => text(r.task)).filter((id): id is string => id !== undefined && SYS_ID.test(id) && !known.has(id)))];
    if (!more.length) return primary;
    // The affected-CI rows only point at their change: its window is read from the change itself.
    return [...primary, ...(await this.list(TABLE, `sys_idIN${more.join(',')}^stateIN-2,-1^approval=approved`, FIELDS))];
  }

  /** One page of a Table API list, through the provider's client and sign-in. */
  private async list(table: string, sysparmQuery: string, fields: string): Promise<Record<string, unknown>[]> {
    const params = new URLSearchParams({
      sysparm_query: sysparmQuery,
      sysparm_fields: `sys_id,${fields}`,
      sysparm_display_value: 'false',
      sysparm_exclude_reference_link: 'true',
      sysparm_limit: String(PAGE),
    });
    let body: unknown;
    try {
      body = (await this.auth.authorized((authorization) => this.http.get(`${table}?${params}`, { headers: { authorization }, responseType: 'text', transformResponse: (t: unknown) => t }))).data;
    } catch (err) {
      const e = err as { response?: { status: number; data?: unknown }; code?: string; message?: string };
      if (e.response) throw new Error(`HTTP ${e.response.status}${vendorMessage(typeof e.response.data === 'string' ? e.response.data : '')}`);
      throw new Error(clipRedacted(`${e.code ?? ''} ${e.message ?? String(err)}`.trim(), 300));
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(body));
    } catch {
      throw new Error('the answer is not JSON');
    }
    const result = (parsed as { result?: unknown } | null)?.result;
    if (!Array.isArray(result)) throw new Error('the answer has no "result" list');
    return result.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
  }

  private silencesFrom(rows: Record<string, unknown>[], ci: string, checks: string[], now: number): Silence[] {
    const out: Silence[] = [];
    for (const row of rows) {
      const number = text(row.number);
      const startsAt = parseServiceNowDateTime(text(row.start_date));
      const endsAt = parseServiceNowDateTime(text(row.end_date));
      if (!number || !CHANGE_NUMBER.test(number) || startsAt === undefined || endsAt === undefined || endsAt <= startsAt) {
        this.warnOnce(`bad:${String(number)}`, 'Change request without a usable number or planned window: ignored', { cmdbCi: ci, number, start: row.start_date, end: row.end_date });
        continue;
      }
      const until = this.silenceEnd(text(row.state), endsAt, now);
      if (until <= now) continue;
      // The same bound as a person's silence: a window of months is a typo in the change, not maintenance.
      if (endsAt - startsAt > MAX_SILENCE_AHEAD_MS) {
        this.warnOnce(`long:${number}`, 'Change request planned for more than 30 days: not used as a silence', { cmdbCi: ci, number });
        continue;
      }
      if (until > endsAt && now >= endsAt) this.warnOnce(`overrun:${number}`, 'Change request still in Implement past its planned end: its silence goes on until it leaves Implement or the overrun limit', { cmdbCi: ci, number, plannedEnd: new Date(endsAt).toISOString(), until: new Date(until).toISOString() });
      out.push({ id: changeSilenceId(number), checks: [...checks], startsAt, endsAt: until, reason: number, createdBy: 'servicenow' });
    }
    return out;
  }

  /**
   * When a change's silence ends: its planned end; for a change in Implement, rolled two rounds
   * ahead while it stays there (work that overran), never past `overrun` after the planned end. A
   * round that finds it in Review or Closed removes the silence; a poller that stops lets it lapse.
   */
  private silenceEnd(state: string | undefined, plannedEnd: number, now: number): number {
    if (state !== '-1') return plannedEnd;
    const limit = plannedEnd + (this.options.overrunMs ?? DEFAULT_OVERRUN_MS);
    return Math.max(plannedEnd, Math.min(limit, now + 2 * this.options.everyMs));
  }

  private warnOnce(key: string, message: string, meta: Record<string, unknown>): void {
    if (this.warned.has(key)) return;
    if (this.warned.size > 10_000) this.warned.clear();
    this.warned.add(key);
    this.log.warn(message, meta);
  }

  /**
   * Change silences not seen this round whose checks all sit on CIs that answered: their change
   * was cancelled, unapproved or moved off the CI. One on a CI that failed stays until it ends.
   */
  private async removeWithdrawn(seen: Set<string>, answered: Set<string>, now: number): Promise<string[]> {
    if (answered.size === 0) return [];
    const checksAnswered = new Set([...answered].flatMap((ci) => this.byCi.get(ci) ?? []));
    const removed: string[] = [];
    for (const s of await this.options.store.list(now)) {
      if (!s.id.startsWith('chg-') || s.createdBy !== 'servicenow' || seen.has(s.id)) continue;
      if (!s.checks.every((c) => checksAnswered.has(c))) continue;
      if (await this.options.store.remove(s.id, now)) {
        removed.push(s.id);
        this.log.info('Change request no longer approved and scheduled: its silence is removed', { change: s.reason, checks: s.checks });
      }
    }
    return removed;
  }
}

/** ServiceNow's error envelope as `: message`, or nothing. */
function vendorMessage(body: string): string {
  try {
    const error = (JSON.parse(body) as { error?: { message?: unknown; detail?: unknown } }).error;
    const parts = [error?.message, error?.detail].filter((p): p is string => typeof p === 'string' && p.trim() !== '');
    return parts.length ? `: ${peerLine(parts.join(': '), 300)}` : '';
  } catch {
    return '';
  }
}

import type { Redis } from 'ioredis';
import type { MaintenanceWindow, ProdromeConfig } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { ChangeWindowPoller, type PollSummary, type ServiceNowAccess } from './change-windows.js';
import { GlobSet } from './glob.js';
import { activeWindow, nextStart, scheduleProblem, type WindowSpan } from './schedule.js';
import { SilenceStore, type NewSilence, type Silence } from './silences.js';

export { activeWindow, nextStart, type WindowSpan, type WindowTiming } from './schedule.js';
export { globMatch, GlobSet } from './glob.js';

/** Why a check is quiet now: a recurring window, a person's silence, or a ServiceNow change. */
export interface Suppression {
  /** Where it comes from and why: `silence sil-1a2b3c4d by alice: switch swap`, for logs and IT. */
  reason: string;
  /** Only why, as it was written (the window's or silence's reason, the CHG number): for clinicians. */
  says: string;
  /** Epoch ms: when this window or silence ends. */
  until: number;
  kind: 'window' | 'silence' | 'change';
}

/** One entry of `GET /api/silences`: a silence, a change window, or a recurring window running now. */
export interface MaintenanceEntry {
  id: string;
  kind: Suppression['kind'];
  checks: string[];
  startsAt: number;
  endsAt: number;
  reason: string;
  createdBy: string;
}

export interface MaintenanceOptions {
  windows: readonly MaintenanceWindow[];
  store: SilenceStore;
  logger: Logger;
  /** The configured check ids, to say which ones a silence's globs match. */
  checkIds?: readonly string[];
  /** How often the silences are re-read from Redis (those other agents added or removed). Default 5s. */
  refreshMs?: number;
  /** ServiceNow's change calendar, when `maintenance: [{ fromServiceNow }]` is configured. */
  changeWindows?: ChangeWindowPoller;
  /** A silence was added here (a person's) or a change window first stored: told to whoever keeps a record. */
  onSilenced?(silence: Silence): void;
}

/** Default re-read period of the silences. */
export const SILENCE_REFRESH_MS = 5_000;

interface CompiledWindow {
  window: MaintenanceWindow;
  globs: GlobSet;
  /** The last answer and the span of time it holds for. */
  cached?: { from: number; until: number; span: WindowSpan | undefined };
}

interface CompiledSilence {
  silence: Silence;
  globs: GlobSet;
  kind: 'silence' | 'change';
}

const kindOf = (s: Silence): 'silence' | 'change' => (s.id.startsWith('chg-') && s.createdBy === 'servicenow' ? 'change' : 'silence');

/**
 * Maintenance windows from the config and silences from Redis, answered from memory.
 *
 * `suppression()` runs on the probe hot path, so it never waits: the silences are kept in memory,
 * re-read every few seconds (what other agents added) and updated at once when added or removed
 * through this object; each recurring window's answer is kept until its next start or end. When
 * Redis cannot be read, the last silences read stay in force until their own end.
 */
export class Maintenance {
  private readonly log: Logger;
  private readonly windows: CompiledWindow[];
  private silences: CompiledSilence[] = [];
  /** Per check id: the windows that name it (fixed) and the silences that do (rebuilt when silences change). */
  private readonly windowsByCheck = new Map<string, CompiledWindow[]>();
  private silencesByCheck = new Map<string, CompiledSilence[]>();
  private readonly refreshMs: number;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private nextRefresh: Promise<void> | undefined;
  /** Bumped by every local change, so a read that started before it does not undo it. */
  private generation = 0;
  private readFailing = false;

  constructor(private readonly options: MaintenanceOptions) {
    this.log = options.logger.child({ component: 'maintenance' });
    this.refreshMs = options.refreshMs ?? SILENCE_REFRESH_MS;
    this.windows = options.windows.map((window) => ({ window, globs: new GlobSet(window.checks) }));
    for (const { window } of this.windows) {
      const problem = scheduleProblem(window);
      if (problem) this.log.error('Maintenance window schedule cannot be computed: the window never starts', { window: window.id, schedule: window.schedule, error: problem });
    }
  }

  /** Whether `checkId` is inside a maintenance window, a silence or a change window at `now`, and why. */
  suppression(checkId: string, now: number): Suppression | undefined {
    let best: Suppression | undefined;
    for (const w of this.windowsFor(checkId)) {
      const span = this.windowAt(w, now);
      if (span && (!best || span.end > best.until)) best = { kind: 'window', until: span.end, reason: `maintenance window ${w.window.id}: ${w.window.reason}`, says: w.window.reason };
    }
    for (const s of this.silencesFor(checkId)) {
      const { silence } = s;
      if (silence.startsAt > now || silence.endsAt <= now || (best && silence.endsAt <= best.until)) continue;
      best = {
        kind: s.kind,
        until: silence.endsAt,
        reason: s.kind === 'change' ? `change ${silence.reason} (ServiceNow)` : `silence ${silence.id} by ${silence.createdBy}: ${silence.reason}`,
        says: silence.reason,
      };
    }
    return best;
  }

  /** The recurring windows running at `now` and every silence not ended (read from Redis now), by start. */
  async list(now = Date.now()): Promise<MaintenanceEntry[]> {
    const generation = this.generation;
    const silences = await this.options.store.list(now);
    if (generation === this.generation) this.setSilences(silences);
    const entries: MaintenanceEntry[] = [];
    for (const w of this.windows) {
      const span = this.windowAt(w, now);
      if (span) entries.push({ id: w.window.id, kind: 'window', checks: [...w.window.checks], startsAt: span.start, endsAt: span.end, reason: w.window.reason, createdBy: 'config' });
    }
    for (const s of silences) entries.push({ ...s, kind: kindOf(s) });
    return entries.sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id));
  }

  /** Stores a silence (throws SilenceInputError for bad input) and applies it here at once. */
  async addSilence(input: NewSilence, now = Date.now()): Promise<Silence> {
    const silence = await this.options.store.add(input, now);
    this.generation++;
    this.setSilences([...this.silences.map((s) => s.silence).filter((s) => s.id !== silence.id), silence]);
    this.options.onSilenced?.(silence);
    return silence;
  }

  /** Ends a silence (or a change window) now; false when none has this id. */
  async removeSilence(id: string, now = Date.now()): Promise<boolean> {
    const removed = await this.options.store.remove(id, now);
    this.generation++;
    this.setSilences(this.silences.map((s) => s.silence).filter((s) => s.id !== id));
    return removed;
  }

  /** The configured check ids that any of `globs` matches. */
  matching(globs: readonly string[]): string[] {
    const set = new GlobSet(globs);
    return (this.options.checkIds ?? []).filter((id) => set.matches(id));
  }

  /**
   * Reads ServiceNow's change calendar now (outside the poller's rounds) and applies what it
   * found; undefined when no `fromServiceNow` is configured. Never throws for ServiceNow's faults.
   */
  async syncChanges(now = Date.now()): Promise<PollSummary | undefined> {
    if (!this.options.changeWindows) return undefined;
    const summary = await this.options.changeWindows.pollOnce(now);
    await this.refresh();
    return summary;
  }

  /** Re-reads the silences from Redis; a failure is logged (once per outage) and the last ones are kept. */
  refresh(): Promise<void> {
    // A read under way may predate what the caller has just written: one more read follows it,
    // shared by every caller that asks meanwhile.
    if (this.refreshing) {
      this.nextRefresh ??= this.refreshing.then(() => {
        this.nextRefresh = undefined;
        return this.refresh();
      });
      return this.nextRefresh;
    }
    this.refreshing = this.read().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Reads the silences now, then every `refreshMs`, and starts the change calendar's poller. Timers are unref'd. */
  start(): void {
    if (this.timer) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs).unref();
    this.options.changeWindows?.start(() => void this.refresh());
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.options.changeWindows?.stop();
    await (this.nextRefresh ?? this.refreshing);
  }

  private async read(): Promise<void> {
    const generation = this.generation;
    try {
      const silences = await this.options.store.list();
      if (this.readFailing) this.log.info('Silences readable again');
      this.readFailing = false;
      // A silence added or removed here while the read was under way is already applied; the
      // read may predate it, so it waits for the next round.
      if (generation === this.generation) this.setSilences(silences);
    } catch (err) {
      if (!this.readFailing) this.log.warn('Cannot read silences from Redis; the last ones read stay in force until they end', { error: errorMessage(err) });
      this.readFailing = true;
    }
  }

  private setSilences(silences: readonly Silence[]): void {
    this.silences = silences.map((silence) => ({ silence, globs: new GlobSet(silence.checks), kind: kindOf(silence) }));
    this.silencesByCheck = new Map();
  }

  private windowsFor(checkId: string): CompiledWindow[] {
    let list = this.windowsByCheck.get(checkId);
    if (!list) this.windowsByCheck.set(checkId, (list = this.windows.filter((w) => w.globs.matches(checkId))));
    return list;
  }

  private silencesFor(checkId: string): CompiledSilence[] {
    let list = this.silencesByCheck.get(checkId);
    if (!list) this.silencesByCheck.set(checkId, (list = this.silences.filter((s) => s.globs.matches(checkId))));
    return list;
  }

  /** The window's occurrence at `now`, from the cache while `now` is within the span it holds for. */
  private windowAt(w: CompiledWindow, now: number): WindowSpan | undefined {
    const c = w.cached;
    if (c && now >= c.from && now < c.until) return c.span;
    const span = activeWindow(w.window, now);
    // Inactive: the same answer holds until the next start (none: for ever).
    w.cached = span ? { from: span.start, until: span.end, span } : { from: now, until: nextStart(w.window, now) ?? Number.POSITIVE_INFINITY, span: undefined };
    return span;
  }
}

/**
 * The maintenance facade for the daemon: the config's recurring windows, the silences in Redis
 * under `config.redis.prefix`, and — with `maintenance: [{ fromServiceNow }]` — the change
 * calendar of that ServiceNow provider. Call `start()` once Redis is connecting, `stop()` on
 * shutdown; pass it to the pipeline as its suppressions and to registerSilenceRoutes.
 */
export function buildMaintenance(config: ProdromeConfig, redis: Redis, logger: Logger, options: { refreshMs?: number; onSilenced?(silence: Silence): void } = {}): Maintenance {
  const store = new SilenceStore(redis, config.redis.prefix, { logRetentionMs: config.history.retention });
  let changeWindows: ChangeWindowPoller | undefined;
  const from = config.maintenance.fromServiceNow;
  const provider = from && config.ticketing.providers.get(from.provider);
  if (from && provider) {
    changeWindows = new ChangeWindowPoller({
      checks: config.checks,
      // The provider's own parsed options: the same object, so the same sign-in (one OAuth token).
      access: provider.options as unknown as ServiceNowAccess,
      overrunMs: from.overrunMs,
      ...(options.onSilenced ? { onNewSilence: options.onSilenced } : {}),
      store,
      logger,
      everyMs: from.everyMs,
      redis,
      prefix: config.redis.prefix,
      agentId: config.agent.id,
    });
  }
  return new Maintenance({
    windows: config.maintenance.windows, store, logger, checkIds: config.checks.map((c) => c.id), refreshMs: options.refreshMs, changeWindows,
    ...(options.onSilenced ? { onSilenced: options.onSilenced } : {}),
  });
}

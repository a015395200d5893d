import type { Redis } from 'ioredis';
import type { CheckConfig } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { stateFromSaved, type Evaluator, type TargetState } from '../evaluator/evaluator.js';
import { STATUS_VALUE } from '../messages/state-change.js';
import { readSavedStates } from './handover.js';

/** How long the other agents' states are reused before they are read again. */
const MAX_AGE_MS = 5_000;

/** A page must answer even when Redis hangs: the read gives up after this and the last one stands. */
const READ_TIMEOUT_MS = 2_000;

export interface SharedStatesOptions {
  evaluator: Evaluator;
  checks: readonly CheckConfig[];
  /** Whether this agent runs the check now. */
  owns(checkId: string): boolean;
  logger: Logger;
  maxAgeMs?: number;
}

/**
 * Every check's states as the API and the status pages show them, whichever agent runs it: this
 * agent's evaluator for its own checks, and for the others the states their agents saved in Redis
 * (src/agents/handover.ts), read at most every few seconds. So a clinician's page served by any
 * agent says what is broken at every site, not only what this agent probes.
 *
 * A check with a quorum that this agent does not run is shown as its best site sees it: by the
 * quorum's rule, a system that answers from one site is up.
 */
export class SharedStates {
  private others = new Map<string, TargetState[]>();
  private readAt = 0;
  private reading: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly options: SharedStatesOptions) {
    this.log = options.logger.child({ component: 'agents' });
  }

  /** Reads the other agents' states if the last read is older than a few seconds. */
  async refresh(now = Date.now()): Promise<void> {
    if (now - this.readAt < (this.options.maxAgeMs ?? MAX_AGE_MS)) return;
    this.reading ??= this.read(now).finally(() => (this.reading = undefined));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.reading, new Promise<void>((resolve) => (timer = setTimeout(resolve, READ_TIMEOUT_MS)))]).finally(() => clearTimeout(timer));
  }

  private async read(now: number): Promise<void> {
    const theirs = this.options.checks.filter((c) => c.enabled && !this.options.owns(c.id));
    if (!theirs.length) {
      this.others = new Map();
      this.readAt = now;
      return;
    }
    try {
      const saved = await readSavedStates(this.redis, this.prefix, theirs);
      const others = new Map<string, TargetState[]>();
      theirs.forEach((check, i) => {
        const best = new Map<string, TargetState>();
        for (const { state } of saved[i]!) {
          const s = stateFromSaved(check, state);
          const before = best.get(s.key);
          // Best first (STATUS_VALUE: ok, warning, critical, unknown): an answer from somewhere beats a failure.
          if (!before || STATUS_VALUE[s.status] < STATUS_VALUE[before.status]) best.set(s.key, s);
        }
        others.set(check.id, [...best.values()]);
      });
      this.others = others;
      this.readAt = now;
    } catch (err) {
      this.log.debug('Cannot read the other agents\' states now; showing the last ones read', { error: errorMessage(err) });
    }
  }

  /** This agent's states of its own checks, then the others' as last read (or what it knows of them). */
  *all(): Iterable<TargetState> {
    const { evaluator, owns } = this.options;
    const shown = new Set<string>();
    for (const s of evaluator.all()) {
      if (!owns(s.checkId) && this.others.get(s.checkId)?.length) continue;
      shown.add(s.key);
      yield s;
    }
    for (const [checkId, states] of this.others) {
      if (owns(checkId)) continue;
      for (const s of states) if (!shown.has(s.key)) yield s;
    }
  }
}

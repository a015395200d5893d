import type { CheckConfig } from '../../config/types.js';
import { incidentKey } from '../../messages/keys.js';
import { isProblem, type StateChange } from '../../messages/state-change.js';
import type { ChangeFilter, FilterContext } from '../monitoring-stage.js';

/** The target under which a grouped check's one incident is kept (no address looks like it). */
export const GROUP_TARGET = '(group)';

/** Names listed in the group incident's message at most; the full list is its `affected`. */
const LISTED = 10;

interface Group {
  check: CheckConfig;
  failing: Map<string, StateChange>;
  /** Whether the group's incident has been sent open (as far as this daemon knows). */
  open: boolean;
  /** The count the open incident was last told about. */
  told: number;
  /** Until then, an incident an earlier run may have left open is closed once if too few fail. */
  checkLeftoverAt: number | undefined;
}

/**
 * Group thresholds (`group: {failing: N}`): a multi-target check opens one incident once N of its
 * targets fail, listing them, and none below; the per-target changes go no further. The incident is
 * updated as the list grows and resolved when fewer than N fail.
 */
export class GroupFilter implements ChangeFilter {
  readonly name = 'group';
  private readonly groups = new Map<string, Group>();

  constructor(ctx: FilterContext, now = Date.now()) {
    for (const check of ctx.checks.values()) {
      if (check.group) this.groups.set(check.id, { check, failing: new Map(), open: false, told: 0, checkLeftoverAt: now + 2 * (check.intervalMs ?? 60_000) });
    }
  }

  canHold(check: CheckConfig): boolean {
    return check.group !== undefined;
  }

  filter(change: StateChange): StateChange | undefined {
    const group = this.groups.get(change.checkId);
    if (!group || change.target === GROUP_TARGET || change.aspect) return change;
    if (isProblem(change.to)) group.failing.set(change.target, change);
    else group.failing.delete(change.target);
    return undefined;
  }

  release(now: number): StateChange[] {
    const out: StateChange[] = [];
    for (const group of this.groups.values()) {
      const threshold = group.check.group!.failing;
      const count = group.failing.size;
      if (count >= threshold && (!group.open || count > group.told)) {
        out.push(this.change(group, 'critical', now));
        group.open = true;
        group.told = count;
      } else if (count < threshold && (group.open || (group.checkLeftoverAt !== undefined && now >= group.checkLeftoverAt))) {
        // A recovery with no incident open is a no-op in the store; sent once after a start in case
        // an earlier run left the group's incident open.
        out.push(this.change(group, 'ok', now));
        group.open = false;
        group.told = 0;
      }
      if (group.checkLeftoverAt !== undefined && now >= group.checkLeftoverAt) group.checkLeftoverAt = undefined;
    }
    return out;
  }

  private change(group: Group, to: 'critical' | 'ok', at: number): StateChange {
    const { check } = group;
    const failing = [...group.failing.keys()];
    const total = check.targets.length;
    const first = [...group.failing.values()][0];
    const message = to === 'ok'
      ? `${failing.length} of ${total} targets failing, below the group threshold of ${check.group!.failing}`
      : `${failing.length} of ${total} targets failing (threshold ${check.group!.failing}): ${failing.slice(0, LISTED).join(', ')}${failing.length > LISTED ? ` and ${failing.length - LISTED} more` : ''}`;
    return {
      key: incidentKey(check.id, GROUP_TARGET), checkId: check.id, target: GROUP_TARGET, type: check.type,
      from: to === 'ok' ? 'critical' : 'ok', to, at, firstFailureAt: Math.min(at, ...[...group.failing.values()].map((c) => c.firstFailureAt)),
      evidence: { kind: to === 'ok' ? 'unknown' : first?.evidence.kind ?? 'error', message, durationMs: 0, values: { failing: failing.length, total }, at },
      affected: failing.map((target) => ({ check: check.id, target })),
    };
  }
}

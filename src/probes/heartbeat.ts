import { z } from 'zod';
import { formatDuration } from '../core/duration.js';
import { failure } from './failure.js';
import { defineProbe } from './probe.js';
import { duration } from '../core/schema.js';
import type { ProbeResult } from '../messages/probe-result.js';

/** What may stand in `/api/heartbeat/{id}` without escaping. */
const HEARTBEAT_ID = /^[A-Za-z0-9._:-]+$/;

const options = {
  window: duration.describe('The longest silence allowed (a nightly backup 26h, a workstation agent 5m): a target whose last beat is older fails with `missing`.'),
};

/**
 * A push check: the target is a heartbeat id that something POSTs to `/api/heartbeat/{id}`. A beat
 * missing for longer than `window`, or one that reports `status: fail`, is a failure. This is how
 * the daemon watches what it cannot reach (workstations behind NAT, batch jobs, appliances).
 */
export default defineProbe({
  type: 'heartbeat',
  options,
  validateTarget: (target) => (HEARTBEAT_ID.test(target) ? undefined : 'is not a heartbeat id: letters, digits and . _ : - only'),
  create(_check, opts, services) {
    return {
      async run(target): Promise<ProbeResult> {
        const now = Date.now();
        const beat = await services.heartbeats.last(target);
        const since = beat?.at ?? services.heartbeats.startedAt;
        const silentMs = Math.max(0, now - since);
        const values = { seconds_since_beat: Math.round(silentMs / 1000), window_seconds: opts.window / 1000 };
        const thresholds = { seconds_since_beat: { critical: opts.window / 1000, direction: 'above' as const } };
        if (silentMs > opts.window) {
          const when = beat
            ? `last beat ${formatDuration(silentMs)} ago (${new Date(beat.at).toISOString()})`
            : services.heartbeats.startedAt === 0
              ? 'no beat recorded'
              : `no beat since the daemon started ${formatDuration(silentMs)} ago`;
          return failure('missing', `${when}; window ${formatDuration(opts.window)}`, { values, thresholds, pushed: true });
        }
        if (beat?.status === 'fail') return failure('error', `sender reported failure: ${beat.message ?? 'no message'}`, { values, thresholds, pushed: true });
        return { ok: true, durationMs: 0, values, thresholds, pushed: true };
      },
    };
  },
});

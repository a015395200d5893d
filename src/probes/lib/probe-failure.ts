import type { FailureKind } from '../../messages/probe-result.js';

/**
 * A failure whose kind is already known where it is found, deep inside an exchange (a decoder, a
 * protocol step, a deadline). Why one class: every probe throws these from its steps and catches
 * them in one place that turns them into a failed ProbeResult; anything else caught there is an
 * unexpected error for `classifyError`. It never leaves a probe: a probe does not throw.
 */
export class ProbeFailure extends Error {
  override readonly name = 'ProbeFailure';
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

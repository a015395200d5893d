/** Base of every error Prodrome raises on purpose: a stable `code`, and whether a retry may help. */
export class ProdromeError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export interface ConfigProblem {
  /** Where in the config, e.g. `checks[3].timeout`. */
  path: string;
  message: string;
}

/** The config is wrong: every problem found, each with its path. Exit code 2. */
export class ConfigError extends ProdromeError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super('CONFIG_INVALID', problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
    this.problems = problems;
  }
}

/** Something the daemon needs (Redis, redis-server binary) cannot be reached or started. Exit code 3. */
export class DependencyError extends ProdromeError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DEPENDENCY_UNAVAILABLE', message, options);
  }
}

/** A delivery to an outside system failed; `retryAfterMs` carries the server's own hint (429 Retry-After). */
export class DeliveryError extends ProdromeError {
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  constructor(message: string, options: { cause?: unknown; retryable: boolean; status?: number; retryAfterMs?: number }) {
    super('DELIVERY_FAILED', message, options);
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

import type { ProdromeConfig } from './types.js';

/**
 * What is allowed but almost certainly not meant: `validate` prints these on stderr (and still
 * says `ok`, exit 0), `start` logs them. Each a sentence without a capital, for both places.
 */
export function configWarnings(config: ProdromeConfig): string[] {
  const warnings: string[] = [];
  if (config.checks.length === 0) warnings.push('no checks configured: this daemon watches nothing');
  else if (config.checks.every((c) => !c.enabled)) warnings.push('every check has enabled: false: this daemon watches nothing');
  return warnings;
}

import * as loader from '../../src/config/load.js';
import type { ProdromeConfig } from '../../src/config/types.js';
import { plugins } from '../../src/plugins.js';

/** The config loader with every plugin registered, as the CLI calls it. */
export function parseConfig(text: string, source = 'test'): ProdromeConfig {
  return loader.parseConfig(text, source, plugins);
}

export function loadConfig(path: string): ProdromeConfig {
  return loader.loadConfig(path, plugins);
}

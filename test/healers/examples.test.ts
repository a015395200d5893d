import { expect } from 'chai';
import { silentLogger } from '../../src/core/logger.js';
import { healerRegistry } from '../../src/healers/index.js';
import { loadConfig } from '../helpers/config.js';
import { healRequest } from './helpers.js';

describe('healers in config/examples/healers.yaml', () => {
  it('shows every healer type', () => {
    const config = loadConfig('config/examples/healers.yaml');
    expect(new Set([...config.healers.values()].map((h) => h.type))).to.deep.equal(new Set(healerRegistry.types));
  });

  it('can all be created and described as what they do (a dry run adds the "would")', () => {
    const config = loadConfig('config/examples/healers.yaml');
    for (const healer of config.healers.values()) {
      const created = healerRegistry.get(healer.type).create(healer.id, healer.options, { logger: silentLogger(), selfPid: process.pid });
      expect(created.describe(healRequest()), healer.id).to.match(/^(run|GET|POST|PUT|PATCH|DELETE|send|delete) /);
    }
  });
});

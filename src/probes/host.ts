import { failure } from './failure.js';
import { defineProbe } from './probe.js';

// Placeholder while the probe is being written: every run fails with a clear message.
export default defineProbe({
  type: 'host',
  options: {},
  create() {
    return { run: async () => failure('error', 'host probe not implemented yet') };
  },
});

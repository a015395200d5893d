import { failure } from './failure.js';
import { defineProbe } from './probe.js';

// Placeholder while the probe is being written: every run fails with a clear message.
export default defineProbe({
  type: 'dns',
  options: {},
  create() {
    return { run: async () => failure('error', 'dns probe not implemented yet') };
  },
});

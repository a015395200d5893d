import { failure } from './failure.js';
import { defineProbe } from './probe.js';

// Placeholder while the probe is being written: every run fails with a clear message.
export default defineProbe({
  type: 'fhir',
  options: {},
  create() {
    return { run: async () => failure('error', 'fhir probe not implemented yet') };
  },
});

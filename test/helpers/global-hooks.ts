import { stopSharedRedis } from './redis.js';
import { missingToolLines } from './tools.js';

/** Mocha root hooks: whatever the suite shares is torn down once, at the end. */
export const mochaHooks = {
  async afterAll() {
    await stopSharedRedis();
    for (const line of missingToolLines()) console.log(line);
  },
};

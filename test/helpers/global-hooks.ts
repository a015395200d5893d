import { stopSharedRedis } from './redis.js';

/** Mocha root hooks: whatever the suite shares is torn down once, at the end. */
export const mochaHooks = {
  async afterAll() {
    await stopSharedRedis();
  },
};

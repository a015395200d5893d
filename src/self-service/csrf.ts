import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

/** How long a page's form stays good: a ward page left open for a shift still works after a refresh. */
export const TOKEN_TTL_MS = 2 * 3_600_000;

export type TokenCheck = 'ok' | 'missing' | 'bad' | 'expired' | 'used';

/** A random key made once per Redis prefix by whichever agent comes first, read by all. */
export function sharedKey(redis: Redis, name: string): () => Promise<Buffer> {
  let key: Promise<Buffer> | undefined;
  return () => {
    key ??= (async () => {
      await redis.set(name, randomBytes(32).toString('base64'), 'NX');
      const stored = await redis.get(name);
      if (!stored) throw new Error(`${name} could not be read back from Redis`);
      return Buffer.from(stored, 'base64');
    })().catch((err) => {
      key = undefined;
      throw err;
    });
    return key;
  };
}

/**
 * CSRF tokens for the ward forms, bound to the page's profile and to the form they sit in (one
 * "This affects me" button is not another's): `issuedAt.nonce.mac`, the mac an HMAC-SHA256 over
 * profile, form, time and nonce with a key kept in Redis (every agent behind one address verifies
 * every other's), each used once (a double click or a resubmitted page counts once).
 */
export class CsrfTokens {
  private readonly secret: () => Promise<Buffer>;

  constructor(private readonly redis: Redis, private readonly prefix: string) {
    this.secret = sharedKey(redis, `${prefix}:self-service:csrf-key`);
  }

  private async mac(profile: string, form: string, issuedAt: string, nonce: string): Promise<string> {
    return createHmac('sha256', await this.secret()).update(`${profile}\n${form}\n${issuedAt}\n${nonce}`).digest('base64url');
  }

  async issue(profile: string, form: string, now = Date.now()): Promise<string> {
    const issuedAt = now.toString(36);
    const nonce = randomBytes(12).toString('base64url');
    return `${issuedAt}.${nonce}.${await this.mac(profile, form, issuedAt, nonce)}`;
  }

  /** Checks a token for this profile and form and spends it. */
  async spend(token: string | undefined, profile: string, form: string, now = Date.now()): Promise<TokenCheck> {
    if (!token) return 'missing';
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]{1,64}$/.test(p))) return 'bad';
    const [issuedAt, nonce, mac] = parts as [string, string, string];
    const want = Buffer.from(await this.mac(profile, form, issuedAt, nonce));
    const given = Buffer.from(mac);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return 'bad';
    const age = now - parseInt(issuedAt, 36);
    if (!(age >= -60_000 && age <= TOKEN_TTL_MS)) return 'expired';
    const fresh = await this.redis.set(`${this.prefix}:self-service:used:${nonce}`, '1', 'PX', TOKEN_TTL_MS + 60_000, 'NX');
    return fresh ? 'ok' : 'used';
  }
}

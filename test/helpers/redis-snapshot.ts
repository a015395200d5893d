import type { Redis } from 'ioredis';

/**
 * Every key under a prefix as plain JSON, and back: what a release left in Redis, kept as a test
 * fixture (test/fixtures/redis-layout/) so the next release is started on it. Independent of the
 * redis-server version (DUMP/RESTORE payloads are not). A value that is not UTF-8 is base64.
 */
export interface SnapshotKey {
  key: string;
  type: 'string' | 'hash' | 'list' | 'set' | 'zset' | 'stream';
  /** Remaining time to live in ms, or -1 for none. */
  pttl: number;
  value: unknown;
}

export interface Snapshot {
  /** The release whose code wrote it (a commit). */
  writtenBy: string;
  prefix: string;
  /** When it was taken: the data's timestamps are relative to this. */
  capturedAt: number;
  /** The config the release ran with. */
  config: string;
  keys: SnapshotKey[];
}

type Bytes = string | { base64: string };

function text(buf: Buffer): Bytes {
  const s = buf.toString('utf8');
  return Buffer.from(s, 'utf8').equals(buf) ? s : { base64: buf.toString('base64') };
}

function bytes(v: Bytes): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.base64, 'base64');
}

export async function takeSnapshot(redis: Redis, prefix: string): Promise<SnapshotKey[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  const out: SnapshotKey[] = [];
  for (const key of keys.sort()) {
    const type = (await redis.type(key)) as SnapshotKey['type'];
    const pttl = await redis.pttl(key);
    let value: unknown;
    switch (type) {
      case 'string':
        value = text((await redis.getBuffer(key))!);
        break;
      case 'hash': {
        const h = await redis.hgetallBuffer(key);
        value = Object.fromEntries(Object.entries(h).sort(([a], [b]) => a.localeCompare(b)).map(([f, v]) => [f, text(v)]));
        break;
      }
      case 'list':
        value = (await redis.lrangeBuffer(key, 0, -1)).map(text);
        break;
      case 'set':
        value = (await redis.smembersBuffer(key)).map(text).sort();
        break;
      case 'zset': {
        const flat = await redis.zrangeBuffer(key, '0', '-1', 'WITHSCORES');
        const pairs: [Bytes, number][] = [];
        for (let i = 0; i < flat.length; i += 2) pairs.push([text(flat[i]!), Number(flat[i + 1]!.toString())]);
        value = pairs;
        break;
      }
      case 'stream':
        value = (await redis.xrangeBuffer(key, '-', '+')).map(([id, fields]) => [id.toString(), fields.map(text)]);
        break;
      default:
        throw new Error(`${key}: type ${String(type)} is not snapshotted`);
    }
    out.push({ key, type, pttl, value });
  }
  return out;
}

/**
 * Writes a snapshot's keys under `prefix` (replacing the one it was taken under). `shiftMs` moves
 * every timestamp of the capture period forward (a silence 30 days long taken months ago is still
 * running): a whole value, JSON number or sorted-set score between `from` and `to` is shifted; key
 * names, members and ids are left as they are, so references between keys still hold.
 */
export async function restoreSnapshot(redis: Redis, snapshot: Snapshot, prefix: string, shift: { ms: number; from: number; to: number }): Promise<void> {
  const moveNumber = (n: number) => (Number.isInteger(n) && n >= shift.from && n <= shift.to ? n + shift.ms : n);
  const moveJson = (v: unknown): unknown =>
    typeof v === 'number' ? moveNumber(v)
      : Array.isArray(v) ? v.map(moveJson)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, moveJson(x)]))
      : v;
  const move = (b: Bytes): Buffer => {
    if (typeof b !== 'string') return bytes(b);
    if (/^\d{12,}$/.test(b)) return Buffer.from(String(moveNumber(Number(b))));
    if (b.startsWith('{') || b.startsWith('[')) {
      try {
        return Buffer.from(JSON.stringify(moveJson(JSON.parse(b))));
      } catch {
        /* not JSON after all */
      }
    }
    return Buffer.from(b);
  };
  const rename = (key: string) => `${prefix}${key.slice(snapshot.prefix.length)}`;
  for (const k of snapshot.keys) {
    const key = rename(k.key);
    const multi = redis.multi().del(key);
    switch (k.type) {
      case 'string':
        multi.set(key, move(k.value as Bytes));
        break;
      case 'hash':
        multi.hset(key, Object.fromEntries(Object.entries(k.value as Record<string, Bytes>).map(([f, v]) => [f, move(v)])));
        break;
      case 'list':
        multi.rpush(key, ...(k.value as Bytes[]).map(move));
        break;
      case 'set':
        multi.sadd(key, ...(k.value as Bytes[]).map(bytes));
        break;
      case 'zset':
        multi.zadd(key, ...(k.value as [Bytes, number][]).flatMap(([m, s]) => [moveNumber(s), bytes(m)] as [number, Buffer]));
        break;
      case 'stream':
        for (const [id, fields] of k.value as [string, Bytes[]][]) multi.xadd(key, id, ...fields.map(bytes));
        break;
    }
    if (k.pttl > 0) multi.pexpire(key, k.pttl);
    await multi.exec();
  }
}

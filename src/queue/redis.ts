import { Redis, type RedisOptions } from 'ioredis';
import { rememberSecret } from '../core/secrets.js';

/**
 * Connection options from a URL: `redis://[user:pass@]host:port/db`, `rediss://…` (TLS), or
 * `unix:/path/redis.sock` (the managed server's socket).
 */
export function redisOptionsFrom(url: string): RedisOptions {
  if (url.startsWith('unix:')) return { path: url.replace(/^unix:(\/\/)?/, '') };
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`unsupported Redis URL scheme "${u.protocol}"`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  // REDIS_URL never passes the config's secret resolution: its password is remembered here.
  if (u.password) rememberSecret(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: Number.isInteger(db) ? db : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** Reconnects forever with a capped backoff: the daemon outlives Redis restarts. */
export function retryStrategy(times: number): number {
  return Math.min(200 * 2 ** Math.min(times, 5), 5_000);
}

/**
 * The control connection (incident store, local tickets, readiness). Commands fail fast while
 * Redis is down instead of piling up in ioredis's offline queue; callers buffer what matters.
 */
export function createControlConnection(options: RedisOptions): Redis {
  return new Redis({ ...options, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy, lazyConnect: true });
}

/** A redacted form for logs: never the password. */
export function describeRedis(options: RedisOptions): string {
  return options.path ? `unix:${options.path}` : `${options.host}:${options.port}/${options.db ?? 0}`;
}

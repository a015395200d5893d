import { isIP } from 'node:net';
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
    // TLS: the host name goes out as SNI and is what the certificate is checked against (an IP
    // address is never sent as SNI; Node checks the certificate's IP SANs against it instead).
    ...(u.protocol === 'rediss:' ? { tls: isIP(u.hostname.replace(/^\[|\]$/g, '')) ? {} : { servername: u.hostname } } : {}),
  };
}

/** `redis.sentinels` as the config gives it: secrets already resolved. */
export interface SentinelSettings {
  /** The monitored master's name (`sentinel monitor <name> …`). */
  name: string;
  /** `host:port` of each sentinel (`[::1]:26379` for IPv6; port 26379 when absent). */
  hosts: string[];
  /** The data nodes' password (requirepass / masterauth). */
  password?: string;
  /** The sentinels' own password, when they have one. */
  sentinelPassword?: string;
  /** TLS to the sentinels and the data nodes. */
  tls?: boolean;
}

/** `host:port`, `[v6]:port` or a bare host (port 26379) → {host, port}; throws on a bad port. */
export function sentinelAddress(spec: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec) ?? /^([^:]+)(?::(\d+))?$/.exec(spec);
  if (!m || !m[1]) throw new Error(`"${spec}" is not host:port`);
  const port = m[2] === undefined ? 26379 : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${spec}": port must be 1-65535`);
  return { host: m[1], port };
}

/**
 * ioredis options for a master found through Redis Sentinel: ioredis asks the sentinels where
 * the master is, connects there, and asks again after a failover, so every connection built from
 * these options (control connection, BullMQ queues and workers) follows the new primary.
 */
export function redisOptionsFromSentinels(s: SentinelSettings): RedisOptions {
  return {
    sentinels: s.hosts.map(sentinelAddress),
    name: s.name,
    ...(s.password ? { password: s.password } : {}),
    ...(s.sentinelPassword ? { sentinelPassword: s.sentinelPassword } : {}),
    // Node checks each certificate against the address the sentinels give (a name, or an IP
    // address against the certificate's IP entries), with its CAs and NODE_EXTRA_CA_CERTS.
    ...(s.tls ? { enableTLSForSentinelMode: true, tls: {}, sentinelTLS: {} } : {}),
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
  if (options.sentinels?.length) return `sentinel ${options.name ?? 'mymaster'} via ${options.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  return options.path ? `unix:${options.path}` : `${options.host}:${options.port}/${options.db ?? 0}`;
}

/*
 * Why here: every probe that opens a socket (tcp, tls, hl7-mllp, dicom-echo) takes a `host:port`
 * target and must read it, and reject a malformed one at load time, the same way.
 */
import { isIP } from 'node:net';

/** A DNS name as a resolver takes one: labels of letters, digits, `-` and `_`, dot-separated, at most 253 characters. */
const DNS_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/**
 * What is wrong with a host a probe is to reach, or undefined: an IP address (IPv6 with an optional
 * `%zone`) or a DNS name. Something made of digits that is not an address (`127.66.0.1-20`, a
 * range; `10.0.0.300`) or a name whose last label is a number is a mistyped address, never a name
 * to look up: refused at load instead of failing every run as `dns`. The message follows the
 * quoted target.
 */
export function hostProblem(host: string): string | undefined {
  if (isIP(host)) return undefined;
  if (/^[\d.\-/]+$/.test(host) && /\d\.\d/.test(host)) {
    return 'is not an IP address: for a range, give a CIDR range (e.g. 10.20.5.0/27) or list each address';
  }
  if (!DNS_NAME.test(host) || /(^|\.)\d+\.?$/.test(host)) return 'is not an IP address or host name';
  return undefined;
}

/** `host:port`, `[v6]:port`, with an optional `tcp://`, `mllp://`, `tls://` or `dicom://` prefix. */
export function parseHostPort(target: string): { host: string; port: number } | undefined {
  const bare = target.replace(/^(tcp|mllp|tls|dicom):\/\//, '');
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(bare);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

/** For `validateTarget` of every probe whose target is host:port. */
export function hostPortProblem(target: string, example: string): string | undefined {
  const parsed = parseHostPort(target);
  return parsed ? hostProblem(parsed.host) : `is not host:port (e.g. ${example})`;
}

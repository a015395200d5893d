import { isIP } from 'node:net';

/** One DNS label: letters, digits and `-`, neither first nor last a `-`, at most 63. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Whether `text` is a host name (RFC 1123 labels, a trailing dot allowed) or an IPv4/IPv6 address
 * literal, and nothing else: no spaces, no leading `-` (a program would read it as an option), no
 * `$()`, quotes or line breaks. What may stand for a host in a healer's argument list or URL.
 */
export function isHostOrAddress(text: string): boolean {
  if (!text || text.length > 253 + 1) return false;
  if (isIP(text)) return !text.includes('%'); // an IPv6 zone (%eth0) is local to one machine's interfaces
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}

import { z } from 'zod';
import { identity, secret } from './schema.js';

/*
 * Why in core: the snmp probe's `snmp:` block and the trap intake's `snmpTraps.users` take the same
 * SNMPv3 user (and the probe and the intake the same v2c community), and config may not import the
 * probe. Keys and communities are secrets (`env:NAME`, `file:/path`): remembered for redaction.
 */

export const AUTH_PROTOCOLS = ['md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
export const PRIV_PROTOCOLS = ['des', 'aes', 'aes256b', 'aes256r'] as const;

/** RFC 3414 §11.2: a USM password shorter than 8 characters is refused (snmpd and net-snmp alike). */
const usmKey = secret.refine((key) => key.length >= 8, { message: 'must be at least 8 characters (RFC 3414); give it as env:NAME or file:/path' });

/** An SNMPv3 user (USM): no auth and no priv is noAuthNoPriv, auth alone authNoPriv, both authPriv. */
export const usmUserShape = {
  user: identity.describe('The SNMPv3 user name (USM), literal or env:NAME / file:/path.'),
  auth: z
    .strictObject({
      protocol: z.enum(AUTH_PROTOCOLS).describe('Authentication digest: md5, sha (SHA-1), sha224, sha256, sha384 or sha512 (RFC 7860). Prefer sha256 or above.'),
      key: usmKey.describe('The authentication password (at least 8 characters), as env:NAME or file:/path.'),
    })
    .optional()
    .describe('Authentication (authNoPriv); absent: noAuthNoPriv.'),
  priv: z
    .strictObject({
      protocol: z.enum(PRIV_PROTOCOLS).describe('Privacy cipher: aes (AES-128, RFC 3826), aes256b or aes256r (AES-256, Blumenthal or Reeder key localisation), des (legacy).'),
      key: usmKey.describe('The privacy password (at least 8 characters), as env:NAME or file:/path.'),
    })
    .optional()
    .describe('Privacy (authPriv): needs `auth` too.'),
};

export type UsmUser = z.infer<z.ZodObject<typeof usmUserShape>>;

/** A USM user's problem that the shape alone cannot say, or undefined. */
export function usmUserProblem(user: UsmUser): string | undefined {
  return user.priv && !user.auth ? 'priv needs auth: SNMPv3 has no privacy without authentication (authPriv)' : undefined;
}

/** How to talk to an SNMP agent: v2c with a community, or v3 with a USM user. */
export type SnmpSecurity = { version: '2c'; community: string } | ({ version: 3 } & UsmUser);

export const snmpCommunity = secret.describe('The SNMPv2c community, as env:NAME or file:/path (it is a password: it never shows in logs, the API or tickets).');

/** `version: 2c` (YAML reads it as text) or `version: 3` (a number; "3" as text also goes). */
export const snmpVersion2c = z.literal('2c', { message: 'must be 2c or 3' });
export const snmpVersion3 = z.union([z.literal(3), z.literal('3').transform(() => 3 as const)], { message: 'must be 2c or 3' });

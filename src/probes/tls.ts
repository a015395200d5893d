import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import { classifyError, failure, ms } from './failure.js';
import { hostPortProblem, parseHostPort } from './lib/host-port.js';
import { settleSocketExchange } from './lib/settle-once.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import type { ProbeResult } from '../messages/probe-result.js';

const DAY_MS = 86_400_000;

/** A PEM file read once, when the config is loaded, so a missing file stops start-up with its path. */
const pemFile = z.string().min(1).transform((file, ctx) => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read CA file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    return z.NEVER;
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    ctx.addIssue({ code: 'custom', message: `${file} holds no PEM certificate` });
    return z.NEVER;
  }
  return text;
});

const options = {
  servername: z.string().min(1).optional()
    .describe('The SNI name sent in the handshake and checked against the certificate. Default: the target\'s host when it is a name (an IP address sends no SNI).'),
  verifyChain: z.boolean().default(true).describe('Fail (kind `tls`) when the chain does not verify or does not name the host.'),
  ca: pemFile.optional().describe('A PEM file of extra CAs to trust beside the system ones (a hospital\'s internal CA); read at load time.'),
  warningDays: z.number().min(0).default(30).describe('Fewer days of validity left than this is a `threshold` warning.'),
  criticalDays: z.number().min(0).default(7).describe('Fewer days left than this is a `threshold` failure.'),
};

/** OpenSSL's own wording for the verify errors a help desk will meet; Node only hands over the code. */
const VERIFY_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_REVOKED: 'certificate revoked',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_UNTRUSTED: 'certificate not trusted',
  INVALID_CA: 'invalid CA certificate',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not name the host',
};

type DistinguishedName = Record<string, string | string[] | undefined>;

/** `{CN: 'x', O: 'y'}` → `CN=x, O=y`, most specific part first as people read it. */
function formatName(name: DistinguishedName | undefined): string {
  if (!name) return '';
  const order = ['CN', 'OU', 'O', 'L', 'ST', 'C'];
  const keys = [...order.filter((k) => k in name), ...Object.keys(name).filter((k) => !order.includes(k))];
  return keys
    .map((k) => {
      const v = name[k];
      return v === undefined ? '' : `${k}=${Array.isArray(v) ? v.join('+') : v}`;
    })
    .filter(Boolean)
    .join(', ');
}

function firstValue(v: string | string[] | undefined): string {
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

export default defineProbe({
  type: 'tls',
  options,
  validateTarget: (target) => hostPortProblem(target, 'ehr.example.org:443'),
  create(_check, opts) {
    // Extra CAs add to the system store: replacing it would break public endpoints in the same check file.
    // One context for all runs: building it parses every root certificate (tens of ms of CPU).
    const secureContext = opts.ca !== undefined ? tls.createSecureContext({ ca: [...tls.rootCertificates, opts.ca] }) : undefined;
    const thresholds = { cert_days_left: { warning: opts.warningDays, critical: opts.criticalDays, direction: 'below' as const } };
    return {
      run(target: string, ctx: ProbeRunContext): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        const address = parseHostPort(target);
        if (!address) return Promise.resolve(failure('error', `target "${target}" is not host:port`));
        if (ctx.signal.aborted) return Promise.resolve(failure('timeout', 'no complete answer before the deadline'));
        const servername = opts.servername ?? (net.isIP(address.host) ? undefined : address.host);
        return new Promise((resolve) => {
          const phases: Record<string, number> = {};
          // The chain is judged here, after the handshake, so an untrusted or expired certificate is
          // still read and reported with its dates instead of ending as a bare handshake error.
          const socket = tls.connect({ host: address.host, port: address.port, servername, secureContext, rejectUnauthorized: false });
          const timedOut = () => failure('timeout', 'no complete answer before the deadline', { durationMs: ms(start), phases });
          const done = settleSocketExchange(socket, ctx.signal, timedOut, resolve);
          socket.once('connect', () => (phases.connect = ms(start)));
          socket.once('error', (err: Error & { reason?: string }) => {
            const { kind, message } = classifyError(err, ctx.signal);
            // OpenSSL's message carries its internal address and source path; its `reason` is the readable part.
            const text = kind === 'tls' && err.reason ? `TLS handshake failed: ${err.reason}` : message;
            done(failure(kind, text, { durationMs: ms(start), phases }));
          });
          socket.once('close', () => done(failure('reset', 'connection closed during the TLS handshake', { durationMs: ms(start), phases })));
          socket.once('secureConnect', () => {
            phases.tls = ms(start);
            done(judge(socket, Date.now(), { durationMs: ms(start), phases }));
          });
        });

        function judge(socket: tls.TLSSocket, now: number, base: { durationMs: number; phases: Record<string, number> }): ProbeResult {
          const cert = socket.getPeerCertificate();
          if (!cert || Object.keys(cert).length === 0) return failure('tls', 'the server sent no certificate', { ...base, values: {} });
          const notAfter = Date.parse(cert.valid_to);
          const daysLeft = Math.round(((notAfter - now) / DAY_MS) * 100) / 100;
          const authorizationError = socket.authorized ? '' : String(socket.authorizationError ?? 'unknown');
          const values: ProbeResult['values'] = {
            cert_days_left: daysLeft,
            cert_subject_cn: firstValue(cert.subject?.CN),
            cert_issuer: formatName(cert.issuer as DistinguishedName),
            cert_not_after: new Date(notAfter).toISOString(),
            tls_version: socket.getProtocol() ?? '',
            chain_valid: socket.authorized,
          };
          if (authorizationError) values.chain_error = authorizationError;
          const evidence = { ...base, values, thresholds };
          if (notAfter <= now) return failure('tls', `certificate expired on ${values.cert_not_after}`, evidence, 'critical');
          if (opts.verifyChain && !socket.authorized) {
            const reason = VERIFY_REASONS[authorizationError];
            return failure('tls', `certificate not trusted: ${reason ? `${reason} (${authorizationError})` : authorizationError}`, evidence, 'critical');
          }
          if (daysLeft < opts.criticalDays) {
            return failure('threshold', `certificate expires in ${daysLeft} days (< ${opts.criticalDays}) on ${values.cert_not_after}`, evidence, 'critical');
          }
          if (daysLeft < opts.warningDays) {
            return failure('threshold', `certificate expires in ${daysLeft} days (< ${opts.warningDays}) on ${values.cert_not_after}`, evidence, 'warning');
          }
          return { ok: true, ...evidence };
        }
      },
    };
  },
});

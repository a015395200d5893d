import { promises as dnsPromises } from 'node:dns';
import net from 'node:net';
import { z } from 'zod';
import { classifyError, failure, ms } from './failure.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import type { FailureKind, ProbeResult } from '../messages/probe-result.js';

const recordTypes = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'PTR'] as const;
type RecordType = (typeof recordTypes)[number];

/** `10.0.0.53`, `10.0.0.53:5353`, `::1` or `[::1]:5353` — the forms Resolver#setServers takes. */
const serverAddress = z.string().refine(
  (text) => {
    if (net.isIP(text)) return true;
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
    if (!m) return false;
    const port = Number(m[3]);
    return port >= 1 && port <= 65_535 && net.isIP(m[1] ?? m[2]!) !== 0;
  },
  { message: 'must be an IP address, optionally with a port: 10.0.0.53, 10.0.0.53:5353 or [::1]:5353' },
);

/** Labels of letters, digits, `-` and `_` (SRV names such as `_ldap._tcp`), 1–63 each, 253 in all. */
function isDnsName(text: string): boolean {
  const name = text.replace(/\.$/, '');
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(label));
}

const options = {
  server: serverAddress.optional()
    .describe('The DNS server to ask. Default: the system resolvers (/etc/resolv.conf). Name the server: a check of "DNS" should say which server failed, and the system list falls through to the next one.'),
  recordType: z.enum(recordTypes).default('A').describe('The record type to ask for. For PTR the target may be an IP address (reverse lookup).'),
  expect: z.array(z.string().min(1)).min(1).optional()
    .describe('Answers the check expects, as the probe reports them: 10.0.0.5, mail.example.org (CNAME/PTR), "10 mail.example.org" (MX), "0 5 443 ehr.example.org" (SRV), the joined text (TXT). Case-insensitive, trailing dots ignored. Default: any answer passes.'),
  expectMatch: z.enum(['any', 'all']).default('any')
    .describe('any: at least one answer is among `expect` (a name still points at one of our hosts); all: every entry of `expect` is among the answers (no member has dropped out of the pool).'),
};

/** c-ares error codes (as Node names them) → what the probe reports. */
const RESOLVER_ERRORS: Record<string, { kind: FailureKind; rcode?: string; text: (name: string, type: RecordType) => string }> = {
  ENOTFOUND: { kind: 'dns', rcode: 'NXDOMAIN', text: (n) => `NXDOMAIN: ${n} does not exist` },
  ENODATA: { kind: 'dns', rcode: 'NOERROR', text: (n, t) => `${n} exists but has no ${t} record (NOERROR, empty answer)` },
  ESERVFAIL: { kind: 'dns', rcode: 'SERVFAIL', text: (n) => `SERVFAIL: the server failed to resolve ${n}` },
  EFORMERR: { kind: 'dns', rcode: 'FORMERR', text: () => 'FORMERR: the server could not parse the query' },
  ENOTIMP: { kind: 'dns', rcode: 'NOTIMP', text: (_n, t) => `NOTIMP: the server does not implement ${t} queries` },
  EREFUSED: { kind: 'refused', rcode: 'REFUSED', text: (n) => `REFUSED: the server refused to answer for ${n}` },
  ECONNREFUSED: { kind: 'refused', text: () => 'could not contact the DNS server (port closed)' },
  EBADRESP: { kind: 'bad_payload', text: () => 'misformatted DNS reply' },
  ETIMEOUT: { kind: 'timeout', text: () => 'no answer from the DNS server before the deadline' },
  EBADNAME: { kind: 'error', text: (n) => `"${n}" is not a valid DNS name` },
};

function normalise(answer: string): string {
  return answer.trim().toLowerCase().replace(/\.$/, '');
}

/** Asks one question and returns the answers as text, one per record. */
async function query(resolver: dnsPromises.Resolver, type: RecordType, name: string): Promise<string[]> {
  switch (type) {
    case 'A':
      return resolver.resolve4(name);
    case 'AAAA':
      return resolver.resolve6(name);
    case 'CNAME':
      return resolver.resolveCname(name);
    case 'MX':
      return (await resolver.resolveMx(name)).map((r) => `${r.priority} ${r.exchange}`);
    case 'TXT':
      // A TXT record's strings are one value split into ≤255-byte chunks (RFC 7208 §3.3 joins them).
      return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
    case 'SRV':
      return (await resolver.resolveSrv(name)).map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name}`);
    case 'PTR':
      return net.isIP(name) ? resolver.reverse(name) : resolver.resolvePtr(name);
  }
}

export default defineProbe({
  type: 'dns',
  options,
  validateTarget(target, opts) {
    if (net.isIP(target)) return opts.recordType === 'PTR' ? undefined : `is an IP address: only a PTR lookup (recordType: PTR) takes one, ${opts.recordType} needs a DNS name`;
    return isDnsName(target) ? undefined : `is not a DNS name${opts.recordType === 'PTR' ? ' or an IP address' : ''}`;
  },
  create(check, opts) {
    const expected = opts.expect?.map(normalise);
    return {
      async run(target: string, ctx: ProbeRunContext): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        const name = target.trim().replace(/\.$/, '');
        if (!name) return failure('error', 'target is empty: name the DNS name to resolve');
        if (ctx.signal.aborted) return failure('timeout', 'no complete answer before the deadline');
        const values: ProbeResult['values'] = { record_type: opts.recordType };
        if (opts.server) values.server = opts.server;
        // A resolver per run: its own socket, and cancel() touches only this run's query.
        // One try, timed to the check's deadline; the signal covers whatever else runs late.
        const resolver = new dnsPromises.Resolver({ timeout: check.timeoutMs, tries: 1 });
        if (opts.server) resolver.setServers([opts.server]);
        const onAbort = () => resolver.cancel();
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        let answers: string[];
        try {
          answers = await query(resolver, opts.recordType, name);
        } catch (err) {
          const durationMs = ms(start);
          const phases = { resolve: durationMs };
          if (ctx.signal.aborted) return failure('timeout', 'no answer from the DNS server before the deadline', { durationMs, phases, values });
          const known = RESOLVER_ERRORS[(err as NodeJS.ErrnoException).code ?? ''];
          if (known) {
            if (known.rcode) values.rcode = known.rcode;
            return failure(known.kind, known.text(name, opts.recordType), { durationMs, phases, values });
          }
          const { kind, message } = classifyError(err, ctx.signal);
          return failure(kind, message, { durationMs, phases, values });
        } finally {
          ctx.signal.removeEventListener('abort', onAbort);
        }
        const durationMs = ms(start);
        Object.assign(values, { rcode: 'NOERROR', answers: answers.join(', '), answer_count: answers.length });
        const base = { durationMs, phases: { resolve: durationMs }, values };
        if (expected) {
          const got = new Set(answers.map(normalise));
          const ok = opts.expectMatch === 'all' ? expected.every((e) => got.has(e)) : expected.some((e) => got.has(e));
          if (!ok) {
            const want = opts.expectMatch === 'all' ? `all of ${opts.expect!.join(', ')}` : `one of ${opts.expect!.join(', ')}`;
            return failure('bad_payload', `${name} ${opts.recordType} answered ${answers.join(', ') || 'nothing'}, expected ${want}`, base);
          }
        }
        return { ok: true, ...base };
      },
    };
  },
});

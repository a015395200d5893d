import net from 'node:net';
import { z } from 'zod';
import { classifyError, failure, ms } from './failure.js';
import { hostPortProblem, parseHostPort } from './lib/host-port.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import { regex } from '../core/schema.js';
import type { ProbeResult } from '../messages/probe-result.js';

const options = {
  expectBanner: regex.optional()
    .describe('The service must greet with a banner matching this regular expression (SMTP, FTP, some interface engines). Without it the check passes on connect.'),
};

export default defineProbe({
  type: 'tcp',
  options,
  validateTarget: (target) => hostPortProblem(target, 'ehr-gateway.example.org:443'),
  create(_check, opts) {
    const banner = opts.expectBanner !== undefined ? new RegExp(opts.expectBanner) : undefined;
    return {
      run(target: string, ctx: ProbeRunContext): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        const address = parseHostPort(target);
        if (!address) return Promise.resolve(failure('error', `target "${target}" is not host:port`));
        return new Promise((resolve) => {
          const socket = net.connect({ host: address.host, port: address.port, signal: ctx.signal });
          let connectMs = 0;
          let received = '';
          const done = (result: ProbeResult) => {
            socket.destroy();
            resolve(result);
          };
          socket.once('connect', () => {
            connectMs = ms(start);
            if (!banner) done({ ok: true, durationMs: connectMs, phases: { connect: connectMs }, values: {} });
          });
          socket.on('data', (chunk: Buffer) => {
            received += chunk.toString('latin1');
            if (banner?.test(received)) done({ ok: true, durationMs: ms(start), phases: { connect: connectMs, banner: ms(start) }, values: {} });
            else if (received.length > 4096) done(failure('bad_payload', `banner does not match /${banner?.source}/`, { durationMs: ms(start) }));
          });
          socket.once('end', () => done(failure('bad_payload', `connection closed before a banner matching /${banner?.source}/`, { durationMs: ms(start) })));
          socket.once('error', (err) => {
            const { kind, message } = classifyError(err, ctx.signal);
            done(failure(kind, message, { durationMs: ms(start) }));
          });
        });
      },
    };
  },
});

import { expect } from 'chai';
import { silentLogger } from '../../src/core/logger.js';
import { registerStatusPages } from '../../src/http/status-pages.js';
import { HttpServer } from '../../src/http/server.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { hospitalConfig, incidentsOf, statesWith } from '../status/fixtures.js';

describe('status pages over HTTP', () => {
  let http: HttpServer;
  let base: string;
  before(async () => {
    const config = hospitalConfig();
    http = new HttpServer({ listen: '127.0.0.1:0', metrics: new Metrics(), readiness: () => ({ ready: true, reasons: [] }), logger: silentLogger() });
    registerStatusPages(http, { config, states: statesWith(config, []), store: incidentsOf([]), latency: { samples: () => [] }, headline: async () => undefined });
    http.route('GET', '/api/ping', async () => ({ status: 200, body: { pong: true } }));
    const { port } = await http.listen();
    base = `http://127.0.0.1:${port}`;
  });
  after(() => http.close());

  for (const path of ['/status', '/status/radiology']) {
    it(`serves ${path} as HTML with no caching, a CSP that allows only inline styles and data: images, and nosniff`, async () => {
      const res = await fetch(base + path);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.headers.get('content-security-policy')).to.match(/^default-src 'none'; style-src 'unsafe-inline'; img-src data:(;|$)/);
      expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(await res.text()).to.match(/^<!DOCTYPE html>/);
    });

    it(`lets nothing frame ${path}, its forms post only to itself and no <base> move its links`, async () => {
      const res = await fetch(base + path);
      const policy = (res.headers.get('content-security-policy') ?? '').split(';').map((d) => d.trim());
      expect(policy).to.include.members(["frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"]);
      expect(res.headers.get('x-frame-options')).to.equal('DENY');
      expect(await res.text()).to.match(/^<!DOCTYPE html>/);
    });
  }

  it('answers an unknown profile with 404 and an HTML page linking the known ones', async () => {
    const res = await fetch(`${base}/status/no-such-ward`);
    expect(res.status).to.equal(404);
    expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    expect(res.headers.get('x-frame-options')).to.equal('DENY');
    const html = await res.text();
    expect(html).to.include('<a href="emergency-dept">Emergency department</a>');
    expect(html).to.include('<a href="radiology">Radiology</a>');
  });

  it('still sends JSON for a route that returns a plain body', async () => {
    const res = await fetch(`${base}/api/ping`);
    expect(res.headers.get('content-type')).to.equal('application/json');
    expect(await res.json()).to.deep.equal({ pong: true });
  });
});

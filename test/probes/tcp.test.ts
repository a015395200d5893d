import { expect } from 'chai';
import net from 'node:net';
import { close, freePortClosed, listen, trackSockets } from '../helpers/servers.js';
import { makeProbe, runOnce } from './run-probe.js';

describe('tcp probe', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
  });
  async function serve(onConnection: (s: net.Socket) => void): Promise<number> {
    const server = net.createServer(onConnection);
    trackSockets(server);
    servers.push(server);
    return listen(server);
  }

  it('passes when the port accepts a connection', async () => {
    const port = await serve((s) => s.end());
    const result = await runOnce(makeProbe('tcp'), `127.0.0.1:${port}`);
    expect(result.ok).to.equal(true);
    expect(result.phases).to.have.property('connect');
  });

  it('accepts a tcp:// prefix', async () => {
    const port = await serve((s) => s.end());
    expect((await runOnce(makeProbe('tcp'), `tcp://127.0.0.1:${port}`)).ok).to.equal(true);
  });

  it('fails with refused when nothing listens', async () => {
    const result = await runOnce(makeProbe('tcp'), `127.0.0.1:${await freePortClosed()}`);
    expect(result.error?.kind).to.equal('refused');
  });

  it('checks the banner when one is expected', async () => {
    const port = await serve((s) => s.write('220 mail ready\r\n'));
    expect((await runOnce(makeProbe('tcp', { expectBanner: '^220 ' }), `127.0.0.1:${port}`)).ok).to.equal(true);
  });

  it('fails with timeout when the expected banner never comes', async () => {
    const port = await serve(() => {});
    const result = await runOnce(makeProbe('tcp', { expectBanner: '^220 ' }), `127.0.0.1:${port}`, 300);
    expect(result.error?.kind).to.equal('timeout');
  });

  it('fails with bad_payload on a wrong banner', async () => {
    const port = await serve((s) => s.end('garbage\r\n'));
    const result = await runOnce(makeProbe('tcp', { expectBanner: '^220 ' }), `127.0.0.1:${port}`);
    expect(result.error?.kind).to.equal('bad_payload');
  });

  it('fails, without throwing, on a target that is not host:port', async () => {
    expect((await runOnce(makeProbe('tcp'), 'localhost')).error?.kind).to.equal('error');
  });
});

import { expect } from 'chai';
import { parseConfig } from '../helpers/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { describeRedis, redisOptionsFrom, redisOptionsFromSentinels, sentinelAddress } from '../../src/queue/redis.js';

function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('Redis connection options: rediss:// TLS and Sentinel', () => {
  it('turns a rediss:// URL into TLS options, with the host name as SNI', () => {
    const o = redisOptionsFrom('rediss://redis.hospital.example:6380/2');
    expect(o).to.include({ host: 'redis.hospital.example', port: 6380, db: 2 });
    expect(o.tls).to.deep.equal({ servername: 'redis.hospital.example' });
  });

  it('sends no IP address as SNI, and keeps redis:// plain', () => {
    expect(redisOptionsFrom('rediss://10.1.2.3:6380').tls).to.deep.equal({});
    expect(redisOptionsFrom('rediss://[::1]:6380').tls).to.deep.equal({});
    expect(redisOptionsFrom('redis://10.1.2.3:6379').tls).to.equal(undefined);
  });

  it('maps redis.sentinels to ioredis sentinel options', () => {
    const o = redisOptionsFromSentinels({ name: 'mymaster', hosts: ['127.0.0.1:26379', 'sentinel-b.example:26380', '[::1]:26381', 'sentinel-c'], password: 'pw', sentinelPassword: 'spw' });
    expect(o.sentinels).to.deep.equal([
      { host: '127.0.0.1', port: 26379 },
      { host: 'sentinel-b.example', port: 26380 },
      { host: '::1', port: 26381 },
      { host: 'sentinel-c', port: 26379 },
    ]);
    expect(o).to.include({ name: 'mymaster', password: 'pw', sentinelPassword: 'spw' });
    expect(o.host).to.equal(undefined);
    expect(describeRedis(o)).to.equal('sentinel mymaster via 127.0.0.1:26379,sentinel-b.example:26380,::1:26381,sentinel-c:26379');
    expect(describeRedis(o)).not.to.contain('pw');
    const bare = redisOptionsFromSentinels({ name: 'm', hosts: ['127.0.0.1:1'] });
    expect(bare).not.to.have.property('password');
    expect(bare).not.to.have.property('sentinelPassword');
    expect(() => sentinelAddress('127.0.0.1:99999')).to.throw(/port/);
  });

  it('loads redis.sentinels with env: secrets', () => {
    process.env.PRODROME_TEST_SENTINEL_PW = 'sentinel-secret-0042';
    const config = parseConfig('redis: { sentinels: { name: mymaster, hosts: ["127.0.0.1:26379", "127.0.0.1:26380"], password: "env:PRODROME_TEST_SENTINEL_PW", sentinelPassword: "env:PRODROME_TEST_SENTINEL_PW" } }\n', 't');
    expect(config.redis.sentinels).to.deep.equal({ name: 'mymaster', hosts: ['127.0.0.1:26379', '127.0.0.1:26380'], password: 'sentinel-secret-0042', sentinelPassword: 'sentinel-secret-0042', tls: false });
    expect(config.redis.url).to.equal(undefined);
    // tls: true asks ioredis for TLS to the sentinels and to the master they name.
    const tls = redisOptionsFromSentinels({ name: 'mymaster', hosts: ['127.0.0.1:26379'], tls: true });
    expect(tls).to.include({ enableTLSForSentinelMode: true });
    expect(tls.sentinelTLS).to.deep.equal({});
    expect(tls.tls).to.deep.equal({});
  });

  it('refuses redis.url beside redis.sentinels, and bad sentinel entries', () => {
    const both = problemsOf('redis: { url: "redis://127.0.0.1:6379/0", sentinels: { name: mymaster, hosts: ["127.0.0.1:26379"] } }\n');
    expect(both.join('\n')).to.match(/redis\.sentinels.*exclude each other/);
    expect(problemsOf('redis: { sentinels: { name: mymaster, hosts: [] } }\n').join('\n')).to.match(/hosts/);
    expect(problemsOf('redis: { sentinels: { name: mymaster, hosts: ["127.0.0.1"] } }\n').join('\n')).to.match(/host:port/);
    expect(problemsOf('redis: { sentinels: { name: mymaster, hosts: ["127.0.0.1:0"] } }\n').join('\n')).to.match(/out of range/);
    expect(problemsOf('redis: { sentinels: { hosts: ["127.0.0.1:26379"] } }\n').join('\n')).to.match(/name/);
    expect(problemsOf('redis: { sentinels: { name: m, hosts: ["127.0.0.1:26379"], master: x } }\n').join('\n')).to.match(/master/);
  });
});

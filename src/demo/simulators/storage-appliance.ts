import http from 'node:http';
import { close, listen } from './servers.js';

/**
 * A storage appliance's management API, reduced to the one call monitoring makes: the capacity of
 * a pool, as JSON. The used percentage comes from a function, so the demo can make the disk fill.
 */
export class StorageAppliance {
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  /** The pool's capacity URL, e.g. http://127.0.0.1:PORT/api/v2/pools/clinical-images. */
  url = '';
  readonly pool = 'clinical-images';
  private readonly sizeBytes = 200 * 1024 ** 4;

  constructor(private readonly usedPercent: () => number) {}

  async start(atPort = 0): Promise<this> {
    const port = await listen(this.server, atPort);
    this.url = `http://127.0.0.1:${port}/api/v2/pools/${this.pool}`;
    return this;
  }

  stop(): Promise<void> {
    return close(this.server);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://appliance').pathname;
    if (req.method !== 'GET' || path !== `/api/v2/pools/${this.pool}`) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: 'not found' }));
    }
    const used = Math.round(this.usedPercent() * 10) / 10;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      name: this.pool,
      state: 'ONLINE',
      capacity: { sizeBytes: this.sizeBytes, usedBytes: Math.round((this.sizeBytes * used) / 100), usedPercent: used },
    }));
  }
}

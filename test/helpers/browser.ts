import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The Debian `chromium` binary (or an Ubuntu-style `chromium-browser`) on PATH, if any. */
export function findChromium(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const path = join(dir, name);
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

type CdpMessage = { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string };

/**
 * Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: the
 * browser reads commands on fd 3 and writes answers on fd 4, each a JSON message ended by NUL), so
 * the tests press buttons and type as a person does without a WebSocket client or a driver package.
 */
export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(r: Record<string, unknown>): void; reject(e: Error): void }>();
  private readonly listeners: ((m: CdpMessage) => void)[] = [];
  private buffer = '';

  private constructor(private readonly child: ChildProcess, private readonly profileDir: string) {
    const out = child.stdio[4] as Readable;
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const message = JSON.parse(this.buffer.slice(0, end)) as CdpMessage;
        this.buffer = this.buffer.slice(end + 1);
        if (message.id !== undefined) {
          const waiter = this.pending.get(message.id);
          this.pending.delete(message.id);
          if (message.error) waiter?.reject(new Error(message.error.message));
          else waiter?.resolve(message.result ?? {});
        } else for (const l of [...this.listeners]) l(message);
      }
    });
  }

  static async launch(binary: string): Promise<Browser> {
    const profileDir = mkdtempSync(join(tmpdir(), 'prodrome-chromium-'));
    const child = spawn(binary, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-proxy-server',
      '--remote-debugging-pipe', `--user-data-dir=${profileDir}`, 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
    const browser = new Browser(child, profileDir);
    await browser.send('Browser.getVersion');
    return browser;
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const promise = new Promise<Record<string, unknown>>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    (this.child.stdio[3] as Writable).write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    return promise;
  }

  /** Resolves with the next event of `method` (in `sessionId`) that `match` accepts. */
  event(method: string, sessionId?: string, match: (params: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      const listener = (m: CdpMessage) => {
        if (m.method !== method || (sessionId && m.sessionId !== sessionId) || !match(m.params ?? {})) return;
        this.listeners.splice(this.listeners.indexOf(listener), 1);
        resolve(m.params ?? {});
      };
      this.listeners.push(listener);
    });
  }

  /** A new tab, with a phone-sized viewport when asked. */
  async newPage(viewport?: { width: number; height: number; mobile: boolean }): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const page = new Page(this, sessionId);
    await page.send('Page.enable');
    await page.send('Network.enable');
    if (viewport) await page.send('Emulation.setDeviceMetricsOverride', { ...viewport, deviceScaleFactor: 2 });
    return page;
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.send('Browser.close').catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    rmSync(this.profileDir, { recursive: true, force: true });
  }
}

/** One tab: navigate, press, type, read — each navigation's HTTP status kept. */
export class Page {
  /** The status of the last document this tab loaded. */
  status = 0;

  constructor(private readonly browser: Browser, private readonly sessionId: string) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Waits for the document that `action` makes the tab load, and keeps its status. */
  private async loading(action: () => Promise<unknown>): Promise<void> {
    const response = this.browser.event('Network.responseReceived', this.sessionId, (p) => p.type === 'Document');
    const loaded = this.browser.event('Page.loadEventFired', this.sessionId);
    await action();
    this.status = ((await response).response as { status: number }).status;
    await loaded;
  }

  goto(url: string): Promise<void> {
    return this.loading(() => this.send('Page.navigate', { url }));
  }

  private async evaluate<T>(expression: string): Promise<T> {
    const { result, exceptionDetails } = (await this.send('Runtime.evaluate', { expression, returnByValue: true })) as { result: { value: T }; exceptionDetails?: unknown };
    if (exceptionDetails) throw new Error(`evaluation failed: ${expression}`);
    return result.value;
  }

  /** The centre of the first element matching `selector`, scrolled into view. */
  private async centre(selector: string): Promise<{ x: number; y: number }> {
    const box = await this.evaluate<{ x: number; y: number } | null>(`(() => { const el = document.querySelector(${JSON.stringify(selector)}); if (!el) return null; el.scrollIntoView({ block: 'center' }); const r = el.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()`);
    if (!box) throw new Error(`no element ${selector} on the page`);
    return box;
  }

  /** A tap of the mouse on the element, as a person presses a button. */
  async press(selector: string): Promise<void> {
    const { x, y } = await this.centre(selector);
    await this.send('Input.dispatchMouseEvent', { type: 'mouseMoved', x, y });
    await this.send('Input.dispatchMouseEvent', { type: 'mousePressed', x, y, button: 'left', clickCount: 1 });
    await this.send('Input.dispatchMouseEvent', { type: 'mouseReleased', x, y, button: 'left', clickCount: 1 });
  }

  /** Presses the element and waits for the page it leads to. */
  pressAndWait(selector: string): Promise<void> {
    return this.loading(() => this.press(selector));
  }

  /** Focuses the field by pressing it, then types the text as keyboard input. */
  async type(selector: string, text: string): Promise<void> {
    await this.press(selector);
    await this.send('Input.insertText', { text });
  }

  /** Chooses an option of a <select> as a person's pick would: by value, with the change event. */
  async choose(selector: string, value: string): Promise<void> {
    await this.evaluate(`(() => { const s = document.querySelector(${JSON.stringify(selector)}); s.value = ${JSON.stringify(value)}; s.dispatchEvent(new Event('change', { bubbles: true })); })()`);
  }

  /** What a reader sees: the page's rendered text. */
  text(): Promise<string> {
    return this.evaluate<string>('document.body.innerText');
  }

  count(selector: string): Promise<number> {
    return this.evaluate<number>(`document.querySelectorAll(${JSON.stringify(selector)}).length`);
  }

  /** The viewport's width in CSS pixels, and whether anything is wider (a page that scrolls sideways on a phone). */
  layout(): Promise<{ width: number; scrollWidth: number }> {
    return this.evaluate('({ width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth })');
  }
}

import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A ward's business-continuity PC (the read-only PC that prints the patient lists when the EHR is
 * down): the EHR drops a fresh downtime report into its folder every few seconds. When the sync
 * stops nothing fails anywhere; only the reports' age tells, and the file check sees it.
 */
export class BcaPc {
  private timer: NodeJS.Timeout | undefined;
  private writing = true;
  private written = 0;

  constructor(readonly folder: string, private readonly everyMs: number) {
    mkdirSync(folder, { recursive: true });
  }

  start(): void {
    this.write();
    this.timer = setInterval(() => this.write(), this.everyMs);
  }

  /** The report sync stops (a broken share, a full disk on the sender): no new reports. */
  syncStops(): void {
    this.writing = false;
  }

  syncResumes(): void {
    this.writing = true;
    this.write();
  }

  private write(): void {
    if (!this.writing) return;
    const n = ++this.written;
    writeFileSync(join(this.folder, `ward-3b-patients-${String(n).padStart(5, '0')}.pdf`), `%PDF-1.7\n% Ward 3B patient list, report ${n}, ${new Date().toISOString()}\n`);
    // Keep the last few: a real folder is pruned by the sync too.
    const files = readdirSync(this.folder).sort();
    for (const old of files.slice(0, -5)) rmSync(join(this.folder, old), { force: true });
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

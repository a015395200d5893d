import type { Hospital } from './hospital.js';

/** The script repeats every this many scenario seconds. */
export const CYCLE_SECONDS = 72;

/** Storage fill: from 70 % at 0.5 %/s, cleaned up to 60 % at this second, then filling again. */
const STORAGE_START = 70;
const STORAGE_RATE = 0.5;
const STORAGE_CLEANUP_AT = 52;
const STORAGE_AFTER_CLEANUP = 60;

/**
 * Used % of the storage pool at scenario second `s`. Continuous across cycles: after the clean-up
 * it climbs from 60 % back to 70 % by the end of the cycle, where the next one starts.
 */
export function storageUsedPercent(s: number): number {
  const c = ((s % CYCLE_SECONDS) + CYCLE_SECONDS) % CYCLE_SECONDS;
  const used = c < STORAGE_CLEANUP_AT ? STORAGE_START + STORAGE_RATE * c : STORAGE_AFTER_CLEANUP + STORAGE_RATE * (c - STORAGE_CLEANUP_AT);
  return Math.round(used * 10) / 10;
}

/** The label printer's ribbon: 60 % at the cycle's start, 1.5 %/s as labels print, out at 40 s, a new one at 46 s. */
const RIBBON_START = 60;
const RIBBON_RATE = 1.5;
const RIBBON_NEW_AT = 46;

/** Ribbon % of the ward's label printer at scenario second `s`: continuous across cycles, like the storage. */
export function ribbonPercent(s: number): number {
  const c = ((s % CYCLE_SECONDS) + CYCLE_SECONDS) % CYCLE_SECONDS;
  const left = c < RIBBON_NEW_AT ? RIBBON_START - RIBBON_RATE * c : 100 - RIBBON_RATE * (c - RIBBON_NEW_AT);
  return Math.max(0, Math.round(left));
}

export interface Scene {
  /** Scenario seconds from the start of the cycle. */
  at: number;
  kind: 'inject' | 'recover' | 'note';
  text: string;
  act(hospital: Hospital): void;
}

const SILENT = ['ws-3b-07', 'ws-3b-13'];

/** Absolute offsets within one cycle; sorted. */
export const SCENES: readonly Scene[] = [
  { at: 0, kind: 'note', text: `storage appliance: pool clinical-images at ${STORAGE_START} % and filling (${STORAGE_RATE} %/s); critical at 95 %`, act: () => {} },
  { at: 1, kind: 'note', text: `ward 3B label printer: ribbon at ${RIBBON_START} % and printing (${RIBBON_RATE} %/s); out at 40 s`, act: () => {} },
  { at: 4, kind: 'inject', text: 'ward 3B business-continuity PC: the downtime report sync stops (nothing fails; the reports just get old)', act: (h) => h.bcaSyncStops() },
  { at: 8, kind: 'inject', text: 'EHR FHIR API: Patient reads fail with 503 (database failover); /metadata still answers', act: (h) => h.ehrReadsFail() },
  { at: 10, kind: 'inject', text: 'ward 3B switch: the port of the bed 4 monitor loses its link (the switch sends linkDown)', act: (h) => h.wardPortDown() },
  { at: 12, kind: 'inject', text: 'ward 3B comms cupboard: the mains fail, the UPS goes on battery (upsTrapOnBattery)', act: (h) => h.mainsFail() },
  { at: 14, kind: 'inject', text: 'HL7 interface engine: rejects every message with AE (outbound queue to LAB full)', act: (h) => h.interfaceEngineNaks() },
  { at: 16, kind: 'recover', text: 'ward 3B business-continuity PC: the report sync runs again', act: (h) => h.bcaSyncResumes() },
  { at: 18, kind: 'inject', text: 'PACS: re-registered as PACS_NEW; associations calling PACS_MAIN are rejected', act: (h) => h.pacsRenamed() },
  { at: 20, kind: 'recover', text: 'EHR FHIR API: failover complete, Patient reads work again', act: (h) => h.ehrRecovers() },
  { at: 22, kind: 'inject', text: `ward 3B: workstations ${SILENT.join(' and ')} switched off, no more heartbeats`, act: (h) => h.ward?.silence(SILENT) },
  { at: 24, kind: 'recover', text: 'ward 3B switch: the bed 4 monitor\'s cable reseated, link up (linkUp)', act: (h) => h.wardPortUp() },
  { at: 26, kind: 'recover', text: 'HL7 interface engine: LAB queue drained by hand (the healer restarted the engine first if it could)', act: (h) => h.interfaceEngineRecovers() },
  { at: 28, kind: 'recover', text: 'ward 3B comms cupboard: mains back, the UPS clears its on-battery alarm', act: (h) => h.mainsBack() },
  { at: 30, kind: 'recover', text: 'PACS: AE title PACS_MAIN restored', act: (h) => h.pacsFixed() },
  { at: 36, kind: 'recover', text: `ward 3B: workstations ${SILENT.join(' and ')} back on, beating again`, act: (h) => h.ward?.resume(SILENT) },
  { at: RIBBON_NEW_AT, kind: 'recover', text: 'ward 3B label printer: a new ribbon', act: () => {} },
  { at: STORAGE_CLEANUP_AT, kind: 'recover', text: `storage appliance: old studies archived, pool back to ${STORAGE_AFTER_CLEANUP} %`, act: () => {} },
];

/**
 * Plays the scenes on their offsets, cycle after cycle, scaled by `speed`. Offsets are absolute
 * (from the demo's start), so a slow callback never makes the script drift.
 */
export class ScenarioPlayer {
  private timer?: NodeJS.Timeout;
  private index = 0;
  private cycle = 0;
  private readonly startedAt = Date.now();

  constructor(
    private readonly hospital: Hospital,
    private readonly speed: number,
    private readonly onScene: (scene: Scene, cycle: number) => void,
  ) {}

  /** Scenario seconds since the start (wall time × speed). */
  seconds(now = Date.now()): number {
    return ((now - this.startedAt) / 1000) * this.speed;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const scene = SCENES[this.index]!;
    const dueMs = this.startedAt + ((this.cycle * CYCLE_SECONDS + scene.at) * 1000) / this.speed;
    this.timer = setTimeout(() => {
      scene.act(this.hospital);
      this.onScene(scene, this.cycle);
      this.index++;
      if (this.index === SCENES.length) {
        this.index = 0;
        this.cycle++;
      }
      this.schedule();
    }, Math.max(0, dueMs - Date.now()));
  }
}

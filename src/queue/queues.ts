import { createHash } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions, type WorkerOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import { DeliveryError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { QueueCounts } from '../metrics/metrics.js';
import { retryStrategy } from './redis.js';
import type { StateChange } from '../messages/state-change.js';
import type { HealJob, HealPlace, NoticeBatchJob, NoticeJob, TicketJob } from '../messages/jobs.js';

export const QUEUE_NAMES = { stateChanges: 'state-changes', tickets: 'tickets', heals: 'heals', noticeBatches: 'notice-batches', notices: 'notices' } as const;

/**
 * Heal rounds run where the check's healers belong: those of a check pinned to an agent on that
 * agent's own queue (its healers act on its host), those of a check shared within a site on the
 * site's queue (worked only by that site's agents: its healers reach what only the site reaches),
 * the rest on the shared queue. '@' cannot appear in an agent id, so the two kinds never collide.
 */
export function healQueueName(place: HealPlace = {}): string {
  if (place.agent) return `${QUEUE_NAMES.heals}-${place.agent}`;
  if (place.site) return `${QUEUE_NAMES.heals}@${place.site}`;
  return QUEUE_NAMES.heals;
}

export function healJobId(job: HealJob): string {
  return `h-${job.incidentId}-${job.round}`;
}

/** BullMQ job ids may not contain ':' and keys carry URLs: hash the key, keep the rest readable. */
function keyHash(key: string): string {
  return createHash('sha1').update(key).digest('hex').slice(0, 16);
}

/**
 * The same change gets the same id however often it is queued (a flush after an outage, a retry,
 * a second agent that saw the same failure at the same instant), so BullMQ keeps one job.
 */
export function stateChangeJobId(change: StateChange): string {
  return `sc-${keyHash(change.key)}-${change.to}-${change.at}`;
}

export function ticketJobId(job: TicketJob): string {
  return job.action === 'update' || job.action === 'change' ? `t-${job.incidentId}-${job.provider}-${job.action}-${job.at}` : `t-${job.incidentId}-${job.provider}-${job.action}`;
}

export function noticeBatchJobId(job: NoticeBatchJob): string {
  return `nb-${job.profile}-${job.due}`;
}

export function noticeJobId(job: NoticeJob): string {
  return `n-${job.profile}-${job.batch}-${job.channel}`;
}

export interface QueueOptions {
  connection: RedisOptions;
  prefix: string;
  logger: Logger;
  ticketAttempts: number;
  backoff: { initial: number; max: number };
}

/** What the workers run: the pipeline's stages after the queue. */
export interface Processors {
  /** The incident stage, for each state change. */
  stateChange(change: StateChange): Promise<void>;
  ticket(job: TicketJob): Promise<void>;
  /** The heal stage, for each round of self-healing; absent where no healer is configured (no heal workers then). */
  heal?(job: HealJob): Promise<void>;
  /** A ticket job that will not be tried again (attempts used up, or an error no retry can fix). */
  ticketAbandoned?(job: TicketJob, error: Error): Promise<void>;
  /** Department notices, where some profile has channels: a batch written, then sent to each channel. */
  noticeBatch?(job: NoticeBatchJob): Promise<void>;
  notice?(job: NoticeJob): Promise<void>;
  noticeAbandoned?(job: NoticeJob, error: Error): Promise<void>;
}

/** Exponential backoff with ±20 % jitter, capped; the server's Retry-After wins when it gave one. */
export function backoffDelay(attemptsMade: number, err: Error | undefined, backoff: { initial: number; max: number }): number {
  if (err instanceof DeliveryError && err.retryAfterMs !== undefined) return Math.min(err.retryAfterMs, 3_600_000);
  const base = Math.min(backoff.initial * 2 ** Math.max(0, attemptsMade - 1), backoff.max);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * How long a worker's hold on a job lasts without renewal (renewed every half of it). A job held by
 * a daemon that died returns to the queue this long after the death plus up to two stall checks:
 * seconds, where BullMQ's default (30 s) kept a ticket waiting half a minute after every crash.
 */
export const LOCK_MS = 5_000;
export const STALL_CHECK_MS = 2_000;
/**
 * A job returned after a crash is never failed for having been returned too often: a crash loop
 * while a slow ticket system answers must delay the ticket, not abandon it (BullMQ's default is 1).
 * Work is bounded by its attempts and backoff, which are time.
 */
const MAX_STALLS = Number.MAX_SAFE_INTEGER;

/**
 * The only module that knows BullMQ. Queues: state changes (from the monitoring stage to the
 * incident worker), heal rounds (to the heal worker; one shared queue, and one per agent for
 * checks pinned to a host) and ticket jobs (to the ticket worker). Every agent on the same Redis and
 * prefix shares them, which is how several agents split the work.
 */
export class PipelineQueues {
  readonly stateChanges: Queue;
  readonly tickets: Queue;
  readonly noticeBatches: Queue;
  readonly notices: Queue;
  private readonly heals = new Map<string, Queue>();
  private workers: Worker[] = [];

  constructor(private readonly options: QueueOptions) {
    this.stateChanges = this.producer(QUEUE_NAMES.stateChanges);
    this.tickets = this.producer(QUEUE_NAMES.tickets);
    this.noticeBatches = this.producer(QUEUE_NAMES.noticeBatches);
    this.notices = this.producer(QUEUE_NAMES.notices);
  }

  private producer(name: string): Queue {
    // Producers fail fast while Redis is down (the outbox buffers); workers wait for it.
    const connection = { ...this.options.connection, enableOfflineQueue: false, retryStrategy };
    const queue = new Queue(name, { connection, prefix: this.options.prefix });
    queue.on('error', (err) => this.logError(`queue ${name}`, err));
    return queue;
  }

  private healQueue(place: HealPlace): Queue {
    const name = healQueueName(place);
    let queue = this.heals.get(name);
    if (!queue) this.heals.set(name, (queue = this.producer(name)));
    return queue;
  }

  private logError(what: string, err: Error): void {
    this.options.logger.debug('Redis error', { component: 'queue', what, error: err.message });
  }

  private jobDefaults(): JobsOptions {
    return {
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 30 * 24 * 3600, count: 10_000 },
    };
  }

  async addStateChange(change: StateChange): Promise<void> {
    await this.stateChanges.add('state-change', change, {
      ...this.jobDefaults(),
      jobId: stateChangeJobId(change),
      // Failures here are Redis trouble; keep trying (capped backoff) rather than drop a change.
      attempts: 1_000,
      backoff: { type: 'capped' },
    });
  }

  /** `delayMs`: an update that gathers what comes in meanwhile (a note read when it is sent). */
  async addTicketJob(job: TicketJob, delayMs = 0): Promise<void> {
    await this.tickets.add(`ticket-${job.action}`, job, {
      ...this.jobDefaults(),
      jobId: ticketJobId(job),
      ...(delayMs > 0 ? { delay: delayMs } : {}),
      attempts: this.options.ticketAttempts,
      backoff: { type: 'capped' },
    });
  }

  /** A profile's notice batch, to be written when it is due (its id makes asking twice one job). */
  async addNoticeBatch(job: NoticeBatchJob, delayMs: number): Promise<void> {
    await this.noticeBatches.add('notice-batch', job, {
      ...this.jobDefaults(),
      jobId: noticeBatchJobId(job),
      delay: Math.max(0, delayMs),
      // Failures here are Redis trouble; the sending is the notice job's.
      attempts: 1_000,
      backoff: { type: 'capped' },
    });
  }

  /** One written notice to one channel, retried like a ticket (until it is too old to tell). */
  async addNotice(job: NoticeJob): Promise<void> {
    await this.notices.add('notice', job, {
      ...this.jobDefaults(),
      jobId: noticeJobId(job),
      attempts: this.options.ticketAttempts,
      backoff: { type: 'capped' },
    });
  }

  /** A heal round, on the queue of where its check runs (healQueueName); `delayMs` for a cooldown. */
  async addHealJob(job: HealJob, place: HealPlace, delayMs = 0): Promise<void> {
    await this.healQueue(place).add('heal', job, {
      ...this.jobDefaults(),
      jobId: healJobId(job),
      delay: delayMs,
      // Failures here are Redis trouble: the round itself never throws for a healer's fault.
      attempts: 1_000,
      backoff: { type: 'capped' },
    });
  }

  /**
   * `self`: this daemon's id and site; it works the shared queues, its own heal queue and its
   * site's. `shared: false` (a probe-only agent) works only its own and its site's heal queues:
   * heals of checks pinned to its host or its site can run nowhere else.
   */
  startWorkers(processors: Processors, self: { agent: string; site?: string }, { shared = true }: { shared?: boolean } = {}): void {
    const connection = { ...this.options.connection, maxRetriesPerRequest: null, retryStrategy };
    const settings = { backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => backoffDelay(attemptsMade, err, this.options.backoff) };
    const common = {
      connection, prefix: this.options.prefix, concurrency: 4, settings,
      lockDuration: LOCK_MS, stalledInterval: STALL_CHECK_MS, maxStalledCount: MAX_STALLS,
    };
    const heal = processors.heal;
    const names = [...(shared ? [healQueueName()] : []), healQueueName({ agent: self.agent }), ...(self.site ? [healQueueName({ site: self.site })] : [])];
    const healWorkers = (heal ? names : []).map((name) => {
      const worker = new Worker<HealJob>(name, (job) => heal!(job.data), common);
      worker.on('failed', (job: Job<HealJob> | undefined, err: Error) => this.options.logger.warn('Heal round failed; it will be retried', { component: 'queue', job: job?.id, error: err.message }));
      return worker;
    });
    this.workers = healWorkers;
    for (const w of healWorkers) w.on('error', (err) => this.logError(`worker ${w.name}`, err));
    if (!shared) return;
    const incidentWorker = new Worker<StateChange>(QUEUE_NAMES.stateChanges, (job) => processors.stateChange(job.data), common);
    const ticketWorker = this.deliveryWorker<TicketJob>(QUEUE_NAMES.tickets, processors.ticket, processors.ticketAbandoned, 'Ticket job abandoned', common);
    incidentWorker.on('failed', (job: Job<StateChange> | undefined, err: Error) => {
      const final = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
      this.options.logger[final ? 'error' : 'warn'](final ? 'State change abandoned' : 'State change processing failed', { component: 'queue', job: job?.id, error: err.message });
    });
    this.workers.push(incidentWorker, ticketWorker);
    for (const w of [incidentWorker, ticketWorker]) w.on('error', (err) => this.logError(`worker ${w.name}`, err));
    if (processors.noticeBatch && processors.notice) this.startNoticeWorkers(processors, common);
  }

  /**
   * A worker for deliveries to outside systems (tickets, notices): a DeliveryError that no retry can
   * fix ends the job at once; a job that will not be tried again is logged and handed to `abandoned`.
   */
  private deliveryWorker<T>(queue: string, run: (job: T) => Promise<void>, abandoned: ((job: T, err: Error) => Promise<void>) | undefined, message: string, common: WorkerOptions): Worker<T> {
    const worker = new Worker<T>(
      queue,
      async (job) => {
        try {
          await run(job.data);
        } catch (err) {
          if (err instanceof DeliveryError && !err.retryable) throw new UnrecoverableError(err.message);
          throw err;
        }
      },
      common,
    );
    worker.on('failed', (job: Job<T> | undefined, err: Error) => {
      if (!job) return;
      if (err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1)) {
        this.options.logger.error(message, { component: 'queue', job: job.id, error: err.message, attempts: job.attemptsMade });
        abandoned?.(job.data, err).catch(() => {});
      }
    });
    return worker;
  }

  private startNoticeWorkers(processors: Processors, common: WorkerOptions): void {
    const batchWorker = new Worker<NoticeBatchJob>(QUEUE_NAMES.noticeBatches, (job) => processors.noticeBatch!(job.data), common);
    const noticeWorker = this.deliveryWorker<NoticeJob>(QUEUE_NAMES.notices, processors.notice!, processors.noticeAbandoned, 'Notice abandoned', common);
    batchWorker.on('failed', (job: Job<NoticeBatchJob> | undefined, err: Error) => this.options.logger.warn('Notice batch failed; it will be retried', { component: 'queue', job: job?.id, error: err.message }));
    this.workers.push(batchWorker, noticeWorker);
    for (const w of [batchWorker, noticeWorker]) w.on('error', (err) => this.logError(`worker ${w.name}`, err));
  }

  /**
   * State changes not yet applied: waiting, delayed, or active — which after a crash includes the
   * ones the dead worker had taken, until the stall check hands them back. Read in one script.
   */
  async pendingStateChanges(): Promise<StateChange[]> {
    const jobs = await this.stateChanges.getJobs(['active', 'waiting', 'delayed', 'prioritized']);
    return jobs.map((job) => job.data as StateChange);
  }

  async counts(): Promise<QueueCounts> {
    const out: QueueCounts = {};
    for (const q of [this.stateChanges, this.tickets, this.healQueue({}), this.notices]) out[q.name] = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
    return out;
  }

  /** Workers finish the job in hand, then everything disconnects. */
  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.close()));
    await Promise.allSettled([this.stateChanges, this.tickets, this.noticeBatches, this.notices, ...this.heals.values()].map((q) => q.close()));
  }
}

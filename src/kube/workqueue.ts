import { Backoff } from './backoff.ts';

/** What a reconcile asks of the queue once it returns. */
export interface ReconcileResult {
  /** Reconcile this key again after so many milliseconds (level-triggered resync of one key). */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

export interface WorkQueueOptions {
  /** Keys processed at once; one key is never processed twice at the same time. */
  concurrency?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  onError?: (key: string, error: unknown, retryInMs: number) => void;
}

/**
 * A keyed work queue as controller-runtime has it: adding a key that is already
 * waiting does nothing (de-duplication), a key added while it is being processed
 * runs once more afterwards, and a failing key is retried with its own back-off
 * without holding up the others.
 */
export class WorkQueue {
  private readonly waiting = new Set<string>();
  private readonly order: string[] = [];
  private readonly active = new Set<string>();
  private readonly dirtyWhileActive = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly backoffs = new Map<string, Backoff>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  private readonly concurrency: number;

  constructor(
    private readonly reconcile: Reconcile,
    private readonly options: WorkQueueOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
  }

  add(key: string): void {
    if (this.stopped) return;
    this.clearTimer(key);
    if (this.active.has(key)) {
      this.dirtyWhileActive.add(key);
      return;
    }
    if (this.waiting.has(key)) return;
    this.waiting.add(key);
    this.order.push(key);
    this.pump();
  }

  /** Adds the key after a delay; an earlier add or addAfter of the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped || this.waiting.has(key)) return;
    const existing = this.timers.get(key);
    if (existing) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  get length(): number {
    return this.waiting.size;
  }

  /** Resolves once nothing is waiting or running (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.waiting.clear();
    this.order.length = 0;
  }

  private isIdle(): boolean {
    return this.waiting.size === 0 && this.active.size === 0;
  }

  private clearTimer(key: string): void {
    const timer = this.timers.get(key);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(key);
    }
  }

  private pump(): void {
    while (!this.stopped && this.active.size < this.concurrency && this.order.length > 0) {
      const key = this.order.shift() as string;
      this.waiting.delete(key);
      this.active.add(key);
      void this.run(key);
    }
    if (this.isIdle()) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async run(key: string): Promise<void> {
    let retryInMs: number | undefined;
    try {
      const result = await this.reconcile(key);
      this.backoffs.delete(key);
      retryInMs = result?.requeueAfterMs;
    } catch (error) {
      const backoff = this.backoffs.get(key) ?? new Backoff(this.options.backoffBaseMs, this.options.backoffMaxMs);
      this.backoffs.set(key, backoff);
      retryInMs = backoff.next();
      this.options.onError?.(key, error, retryInMs);
    }
    this.active.delete(key);
    if (this.dirtyWhileActive.delete(key)) {
      this.add(key);
    } else if (retryInMs !== undefined) {
      this.addAfter(key, retryInMs);
    }
    this.pump();
  }
}

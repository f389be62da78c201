/**
 * The BFD sessions of this process, run in a worker thread (default) or, for comparison, on
 * the main thread. Measured (test/e2e/bfd/frr.test.ts, "main thread blocked"): with 50 ms × 3
 * a 400 ms stall of the main event loop (what a GC pause or an informer burst can cost) makes
 * FRR declare the session Down when the sessions run on the main thread, and does not when
 * they run in the worker, whose event loop keeps sending and detecting on time.
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { BfdEndpoint, type SessionSpec, type SessionStatus, type StateChangeEvent } from './endpoint.ts';
import { serve, type FromWorker, type Reply, type Request, type ToWorker } from './protocol.ts';

export interface BfdServiceOptions {
  /** 'worker' (default): own thread; 'main': this event loop (only to measure the difference). */
  readonly thread?: 'worker' | 'main';
  /** UDP ports (defaults 3784 / 4784). */
  readonly ports?: { readonly singleHop: number; readonly multihop: number };
}

export interface BfdServiceEvents {
  stateChange: [StateChangeEvent];
  /** Negotiated timers changed without a state change. */
  timers: [SessionStatus];
  warning: [string];
  /** The worker died: every session is gone; the owner should treat them as Down. */
  failed: [Error];
}

export class BfdService extends EventEmitter<BfdServiceEvents> {
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private worker: Worker | undefined;
  private endpoint: BfdEndpoint | undefined;

  constructor(options: BfdServiceOptions = {}) {
    super();
    if (options.thread === 'main') {
      this.endpoint = new BfdEndpoint(
        { onStateChange: (event) => this.emit('stateChange', event), onTimers: (status) => this.emit('timers', status), onWarning: (message) => this.emit('warning', message) },
        options.ports,
      );
      return;
    }
    const worker = new Worker(new URL('./worker-entry.js', import.meta.url), { workerData: { ports: options.ports } });
    worker.on('message', (message: FromWorker) => this.fromWorker(message));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`BFD worker exited with code ${code}`)));
    this.worker = worker;
  }

  /** Adds a session or updates one in place (timers by Poll sequence, no flap). */
  async upsert(spec: SessionSpec): Promise<SessionStatus> {
    return (await this.request({ type: 'upsert', spec })) as SessionStatus;
  }

  /** Removes a session; with `adminDown`, after telling the peer (AdminDown, Diag 7). */
  async remove(key: string, options: { adminDown: boolean }): Promise<void> {
    await this.request({ type: 'remove', key, adminDown: options.adminDown });
  }

  async list(): Promise<SessionStatus[]> {
    return (await this.request({ type: 'list' })) as SessionStatus[];
  }

  /** Ends every session (AdminDown first when asked) and the worker. */
  async stop(options: { adminDown: boolean }): Promise<void> {
    if (!this.worker && !this.endpoint) return;
    await this.request({ type: 'stop', adminDown: options.adminDown });
    const worker = this.worker;
    this.worker = undefined;
    this.endpoint = undefined;
    if (worker) {
      worker.removeAllListeners('exit');
      await worker.terminate();
    }
  }

  private request(request: Request): Promise<Reply> {
    if (this.endpoint) return serve(this.endpoint, request);
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('BFD service is stopped'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, request } satisfies ToWorker);
    });
  }

  private fromWorker(message: FromWorker): void {
    switch (message.type) {
      case 'reply': {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error !== undefined) waiter?.reject(new Error(message.error));
        else waiter?.resolve(message.result);
        return;
      }
      case 'stateChange':
        this.emit('stateChange', message.event);
        return;
      case 'timers':
        this.emit('timers', message.status);
        return;
      case 'warning':
        this.emit('warning', message.message);
    }
  }

  private fail(error: Error): void {
    this.worker = undefined;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
    this.emit('failed', error);
  }
}

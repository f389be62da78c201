import type { KubeConnection } from './connection.ts';
import type { Logger } from '../common/log.ts';
import { Backoff } from './backoff.ts';
import { KubeRest, KubeHttpError, type WatchEvent } from './rest.ts';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

interface ObjectList<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

export interface InformerHandlers<T> {
  add?(object: T): void;
  /** Also called with old === new on every periodic resync. */
  update?(oldObject: T, newObject: T): void;
  delete?(object: T): void;
}

export interface InformerOptions {
  /** Collection path, e.g. `/api/v1/services` or `/apis/anchorlb.io/v1beta1/ipaddresspools`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-deliver every cached object this often, so level-triggered consumers heal a missed event. */
  resyncMs?: number;
  pageSize?: number;
  logger?: Logger;
}

/** `namespace/name`, or `name` for cluster-scoped objects: the key the work queues use. */
export function objectKey(object: KubeObject): string {
  const name = object.metadata?.name ?? '';
  const namespace = object.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * List+watch cache for one collection. Unlike client-node's informer it never
 * stops: a watch that ends is resumed from the last resourceVersion, 410 Gone
 * (or any error) leads to a relist with back-off, and a relist reports the
 * differences — including deletions that happened while no watch was open.
 */
export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly rest: KubeRest;
  private readonly backoff = new Backoff(200, 10_000);
  private abort = new AbortController();
  private stopped = true;
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    kubeConfig: KubeConnection,
    private readonly options: InformerOptions,
  ) {
    this.rest = new KubeRest(kubeConfig);
  }

  on(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  /** Starts the loop; resolves once the first list is in the cache. */
  async start(): Promise<void> {
    if (!this.stopped) return this.waitForSync();
    this.stopped = false;
    this.abort = new AbortController();
    this.loop = this.run();
    if (this.options.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs);
      this.resyncTimer.unref();
    }
    return this.waitForSync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.loop;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        let resourceVersion = await this.relist();
        this.backoff.reset();
        while (!this.stopped) {
          const next = await this.watchFrom(resourceVersion);
          if (next === undefined) break; // 410 Gone: relist
          resourceVersion = next;
        }
      } catch (error) {
        if (this.stopped) return;
        const delay = this.backoff.next();
        this.options.logger?.warn({ path: this.options.path, err: describeError(error), retryInMs: delay }, 'list/watch failed; relisting after back-off');
        await sleep(delay, this.abort.signal);
      }
    }
  }

  private async relist(): Promise<string> {
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.rest.getJson<ObjectList<T>>(this.options.path, {
        labelSelector: this.options.labelSelector,
        fieldSelector: this.options.fieldSelector,
        limit: this.options.pageSize ?? 500,
        continue: continueToken,
      });
      for (const item of page.items ?? []) fresh.set(objectKey(item), item);
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    } while (continueToken);

    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.emit((h) => h.delete?.(old));
      }
    }
    for (const [key, object] of fresh) this.apply('ADDED', key, object);
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
    return resourceVersion;
  }

  /** Watches until the stream ends; returns the resourceVersion to resume from, or undefined after 410 Gone. */
  private async watchFrom(resourceVersion: string): Promise<string | undefined> {
    let latest = resourceVersion;
    let gone = false;
    let failure: Error | undefined;
    const watchAbort = new AbortController();
    const onStop = () => watchAbort.abort();
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    try {
      await this.rest.watch(
        this.options.path,
        {
          resourceVersion,
          allowWatchBookmarks: true,
          labelSelector: this.options.labelSelector,
          fieldSelector: this.options.fieldSelector,
          // Spread reconnects like client-go does, so many clients do not re-watch in lockstep.
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        },
        (event) => {
          if (event.type === 'ERROR') {
            const code = Number(event.object.code);
            if (code === 410) gone = true;
            else failure = new Error(`watch error ${code}: ${String(event.object.message)}`);
            watchAbort.abort();
            return;
          }
          const object = event.object as T;
          const version = object.metadata?.resourceVersion;
          if (version) latest = version;
          if (event.type !== 'BOOKMARK') this.apply(event.type, objectKey(object), object);
        },
        watchAbort.signal,
      );
    } catch (error) {
      if (error instanceof KubeHttpError && error.statusCode === 410) gone = true;
      else if (!watchAbort.signal.aborted) throw error;
    } finally {
      this.abort.signal.removeEventListener('abort', onStop);
    }
    if (failure) throw failure;
    return gone ? undefined : latest;
  }

  private apply(type: Exclude<WatchEvent['type'], 'BOOKMARK' | 'ERROR'>, key: string, object: T): void {
    const old = this.store.get(key);
    if (type === 'DELETED') {
      this.store.delete(key);
      this.emit((h) => h.delete?.(old ?? object));
      return;
    }
    if (old && old.metadata?.resourceVersion === object.metadata?.resourceVersion) return;
    this.store.set(key, object);
    if (old) this.emit((h) => h.update?.(old, object));
    else this.emit((h) => h.add?.(object));
  }

  private resync(): void {
    for (const object of this.store.values()) this.emit((h) => h.update?.(object, object));
  }

  private emit(call: (handlers: InformerHandlers<T>) => void): void {
    for (const handlers of this.handlers) {
      try {
        call(handlers);
      } catch (error) {
        this.options.logger?.error({ err: describeError(error) }, 'informer handler threw');
      }
    }
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    // The listener goes with the timer: an informer refused for a long time (e.g. until its RBAC is granted) retries without piling them up.
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

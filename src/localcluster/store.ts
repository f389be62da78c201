import { cloneJson, type KubeObject } from './types.ts';

/**
 * The in-memory object store: one table per resource (`group/plural`), one
 * global, monotonic revision stamped on every write as `metadata.resourceVersion`,
 * and a bounded history of changes from which watches resume. It knows nothing of
 * HTTP, schemas or permissions: callers check preconditions before writing.
 */

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreChange {
  readonly type: ChangeType;
  readonly resource: string;
  readonly revision: number;
  /** The object after the change (for DELETED: its last state, stamped with the deletion's revision). */
  readonly object: KubeObject;
  /** The object before a MODIFIED or DELETED change (selector watches, lists at an older revision). */
  readonly previous?: KubeObject;
}

export interface StoreSnapshot {
  revision: number;
  tables: Record<string, KubeObject[]>;
}

export type HistoryRead = { kind: 'changes'; changes: StoreChange[] } | { kind: 'expired'; oldest: number };

export interface ObjectLocation {
  resource: string;
  namespace: string;
  name: string;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class ObjectStore {
  private revisionCounter = 0;
  private readonly tables = new Map<string, Map<string, KubeObject>>();
  private readonly byUid = new Map<string, ObjectLocation>();
  private history: StoreChange[] = [];
  /** Changes with a revision at or below this one are gone from history. */
  private compactedThrough = 0;
  private readonly listeners = new Set<(change: StoreChange) => void>();

  constructor(private readonly historyLimit = 2000) {
    if (!Number.isInteger(historyLimit) || historyLimit < 1) {
      throw new Error(`historyLimit must be a positive integer, got ${historyLimit}`);
    }
  }

  get revision(): number {
    return this.revisionCounter;
  }

  /** The oldest revision a watch may start from without missing changes. */
  get oldestWatchableRevision(): number {
    return this.compactedThrough;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.tables.get(resource)?.get(objectKey(namespace, name));
  }

  locate(uid: string): ObjectLocation | undefined {
    return this.byUid.get(uid);
  }

  /** Objects of one resource (optionally one namespace), sorted by namespace/name so paging is stable. */
  list(resource: string, namespace?: string): KubeObject[] {
    const table = this.tables.get(resource);
    if (!table) return [];
    const items: KubeObject[] = [];
    for (const object of table.values()) {
      if (namespace === undefined || object.metadata.namespace === namespace) items.push(object);
    }
    return items.sort((a, b) => compareKeys(objectKey(a.metadata.namespace, a.metadata.name ?? ''), objectKey(b.metadata.namespace, b.metadata.name ?? '')));
  }

  resources(): string[] {
    return [...this.tables.keys()];
  }

  /** Stores a new or changed object, stamping it with the next revision; returns what was stored. */
  put(resource: string, object: KubeObject): KubeObject {
    const name = object.metadata.name;
    if (!name) throw new Error(`store: object of ${resource} has no metadata.name`);
    let table = this.tables.get(resource);
    if (!table) {
      table = new Map();
      this.tables.set(resource, table);
    }
    const key = objectKey(object.metadata.namespace, name);
    const previous = table.get(key);
    const revision = ++this.revisionCounter;
    const stored = cloneJson(object);
    stored.metadata.resourceVersion = String(revision);
    table.set(key, stored);
    if (stored.metadata.uid) {
      this.byUid.set(stored.metadata.uid, { resource, namespace: stored.metadata.namespace ?? '', name });
    }
    this.record(previous ? { type: 'MODIFIED', resource, revision, object: stored, previous } : { type: 'ADDED', resource, revision, object: stored });
    return stored;
  }

  /** Removes an object; returns its last state (stamped with the deletion's revision) or undefined. */
  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const table = this.tables.get(resource);
    const key = objectKey(namespace, name);
    const existing = table?.get(key);
    if (!table || !existing) return undefined;
    table.delete(key);
    if (existing.metadata.uid) this.byUid.delete(existing.metadata.uid);
    const revision = ++this.revisionCounter;
    const last: KubeObject = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(revision) } };
    this.record({ type: 'DELETED', resource, revision, object: last, previous: existing });
    return last;
  }

  /** Drops a whole table without history (a CRD's resource going away: its objects were deleted first). */
  dropResource(resource: string): void {
    this.tables.delete(resource);
  }

  /** Changes after `sinceRevision`, or `expired` when history no longer reaches back that far. */
  changesSince(sinceRevision: number): HistoryRead {
    if (sinceRevision < this.compactedThrough) return { kind: 'expired', oldest: this.compactedThrough };
    // History is sorted by revision: binary search for the first newer change.
    let low = 0;
    let high = this.history.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.history[mid]?.revision ?? 0) <= sinceRevision) low = mid + 1;
      else high = mid;
    }
    return { kind: 'changes', changes: this.history.slice(low) };
  }

  /**
   * Objects of one resource as they were at `revision` (a list with resourceVersionMatch=Exact),
   * rebuilt by undoing newer changes; `expired` when history does not reach back that far.
   */
  listAt(resource: string, namespace: string | undefined, revision: number): KubeObject[] | 'expired' {
    const read = this.changesSince(revision);
    if (read.kind === 'expired') return 'expired';
    const state = new Map(this.list(resource, namespace).map((o) => [objectKey(o.metadata.namespace, o.metadata.name ?? ''), o]));
    for (const change of [...read.changes].reverse()) {
      if (change.resource !== resource || (namespace !== undefined && change.object.metadata.namespace !== namespace)) continue;
      const key = objectKey(change.object.metadata.namespace, change.object.metadata.name ?? '');
      if (change.type === 'ADDED') state.delete(key);
      else if (change.previous) state.set(key, change.previous);
    }
    return [...state.values()].sort((a, b) => compareKeys(objectKey(a.metadata.namespace, a.metadata.name ?? ''), objectKey(b.metadata.namespace, b.metadata.name ?? '')));
  }

  /** Forgets all history so far (a fresh server has nothing older than its bootstrap to resume from). */
  compact(): void {
    this.compactedThrough = this.revisionCounter;
    this.history = [];
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): StoreSnapshot {
    const tables: Record<string, KubeObject[]> = {};
    for (const [resource, table] of this.tables) tables[resource] = [...table.values()];
    return cloneJson({ revision: this.revisionCounter, tables });
  }

  /** Replaces all content with a snapshot; history restarts there, so older watches get 410. */
  restore(snapshot: StoreSnapshot): void {
    this.tables.clear();
    this.byUid.clear();
    for (const [resource, objects] of Object.entries(snapshot.tables)) {
      const table = new Map<string, KubeObject>();
      for (const object of objects) {
        const name = object.metadata.name ?? '';
        table.set(objectKey(object.metadata.namespace, name), cloneJson(object));
        if (object.metadata.uid) this.byUid.set(object.metadata.uid, { resource, namespace: object.metadata.namespace ?? '', name });
      }
      this.tables.set(resource, table);
    }
    this.revisionCounter = snapshot.revision;
    this.history = [];
    this.compactedThrough = snapshot.revision;
  }

  private record(change: StoreChange): void {
    this.history.push(change);
    // Trim in batches so a long history is not shifted on every write.
    if (this.history.length > this.historyLimit * 1.1) {
      const drop = this.history.length - this.historyLimit;
      this.compactedThrough = this.history[drop - 1]?.revision ?? this.compactedThrough;
      this.history = this.history.slice(drop);
    }
    for (const listener of this.listeners) listener(change);
  }
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

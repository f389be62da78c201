/**
 * Fault injection for tests (kube-apiserver has none): the HTTP layer asks this
 * object before serving each request. Everything is off until a test turns it on.
 */
export class FaultInjector {
  private failuresLeft = 0;
  private failureStatus: 500 | 429 = 500;
  private conflictsLeft = 0;
  private latency = 0;
  private readonly watchDroppers = new Set<() => void>();

  /** Ends every open watch, as a server restart or a network cut would. */
  dropWatches(): void {
    for (const drop of [...this.watchDroppers]) drop();
  }

  /** Answers the next `count` requests with `status`. */
  failNext(count: number, status: 500 | 429 = 500): void {
    if (!Number.isInteger(count) || count < 0) throw new Error(`failNext: count must be a non-negative integer, got ${count}`);
    if (status !== 500 && status !== 429) throw new Error(`failNext: status must be 500 or 429, got ${String(status)}`);
    this.failuresLeft = count;
    this.failureStatus = status;
  }

  /** Answers the next `count` writes (create, update, patch, delete) with 409 Conflict. */
  conflictNextWrites(count: number): void {
    if (!Number.isInteger(count) || count < 0) throw new Error(`conflictNextWrites: count must be a non-negative integer, got ${count}`);
    this.conflictsLeft = count;
  }

  /** Delays every request by `ms` milliseconds. */
  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`setLatency: ms must be a non-negative number, got ${ms}`);
    this.latency = ms;
  }

  get latencyMs(): number {
    return this.latency;
  }

  /** Consumes one injected failure, if any. */
  takeFailure(): 500 | 429 | undefined {
    if (this.failuresLeft === 0) return undefined;
    this.failuresLeft--;
    return this.failureStatus;
  }

  takeConflict(): boolean {
    if (this.conflictsLeft === 0) return false;
    this.conflictsLeft--;
    return true;
  }

  /** Registers an open watch; returns the function that unregisters it. */
  trackWatch(drop: () => void): () => void {
    this.watchDroppers.add(drop);
    return () => this.watchDroppers.delete(drop);
  }

  reset(): void {
    this.failuresLeft = 0;
    this.conflictsLeft = 0;
    this.latency = 0;
  }
}

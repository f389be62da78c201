/**
 * Two BFD sessions joined by a simulated link, on a virtual clock: timers and deliveries are
 * events in time order, so detection times and Poll sequences can be checked exactly.
 */
import { decodeControl, encodeControl, type BfdState } from '../../../src/bfd/codec.ts';
import { createSession, step, type BfdAction, type BfdConfig, type BfdEvent, type BfdSession, type StateChange } from '../../../src/bfd/fsm.ts';

export interface Logged extends StateChange {
  readonly at: number;
  readonly end: 0 | 1;
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

export class Sim {
  now = 0;
  /** Packets are lost while false (both directions); `loss` drops a fraction at random. */
  linkUp = true;
  loss = 0;
  delayMs = 1;
  readonly sessions: [BfdSession, BfdSession];
  readonly log: Logged[] = [];
  /** Every packet sent, by end, with its send time. */
  readonly sent: Array<{ at: number; end: 0 | 1; bytes: Buffer }> = [];
  /** Time the last packet reached each end. */
  readonly lastReceived: [number, number] = [-1, -1];
  private readonly timers: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  private queue: Pending[] = [];
  private seq = 0;

  constructor(
    configs: [BfdConfig, BfdConfig],
    private readonly random: () => number = () => 0.5,
  ) {
    this.sessions = [createSession(configs[0]), createSession(configs[1])];
  }

  /** Replaces one end by a fresh session (a restarted speaker: new discriminator, state Down). */
  restart(end: 0 | 1, config: BfdConfig): void {
    this.timers[end].clear();
    this.sessions[end] = createSession(config);
  }

  apply(end: 0 | 1, event: BfdEvent): void {
    const result = step(this.sessions[end], event);
    this.sessions[end] = result.session;
    for (const action of result.actions) this.perform(end, action);
  }

  private perform(end: 0 | 1, action: BfdAction): void {
    switch (action.type) {
      case 'send': {
        const bytes = encodeControl(action.packet);
        this.sent.push({ at: this.now, end, bytes });
        if (!this.linkUp || this.random() < this.loss) return;
        const to = (1 - end) as 0 | 1;
        this.schedule(this.now + this.delayMs, () => {
          const decoded = decodeControl(bytes);
          if (!decoded.ok) throw new Error(`sent an invalid packet: ${decoded.reason}`);
          this.lastReceived[to] = this.now;
          this.apply(to, { type: 'packet', packet: decoded.packet });
        });
        return;
      }
      case 'setTimer': {
        const token = ++this.seq;
        this.timers[end].set(action.timer, token);
        this.schedule(this.now + action.ms, () => {
          if (this.timers[end].get(action.timer) !== token) return;
          this.timers[end].delete(action.timer);
          this.apply(end, { type: 'timer', timer: action.timer });
        });
        return;
      }
      case 'clearTimer':
        this.timers[end].delete(action.timer);
        return;
      case 'stateChange':
        this.log.push({ at: this.now, end, from: action.from, to: action.to, diag: action.diag, remoteAdminDown: action.remoteAdminDown });
    }
  }

  private schedule(at: number, run: () => void): void {
    this.queue.push({ at, seq: ++this.seq, run });
  }

  /** Runs every event up to `until` (ms, virtual) in time order. */
  runUntil(until: number): void {
    while (true) {
      let next: Pending | undefined;
      for (const p of this.queue) if (p.at <= until && (next === undefined || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      if (next === undefined) break;
      this.queue = this.queue.filter((p) => p !== next);
      this.now = next.at;
      next.run();
    }
    this.now = until;
  }

  /** Runs until `predicate` holds (checked after every event) or `until`; returns the time it first held, or undefined. */
  runUntilTrue(until: number, predicate: () => boolean): number | undefined {
    while (true) {
      if (predicate()) return this.now;
      let next: Pending | undefined;
      for (const p of this.queue) if (p.at <= until && (next === undefined || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      if (next === undefined) {
        this.now = until;
        return predicate() ? this.now : undefined;
      }
      this.queue = this.queue.filter((p) => p !== next);
      this.now = next.at;
      next.run();
    }
  }

  state(end: 0 | 1): BfdState {
    return this.sessions[end].state;
  }
}

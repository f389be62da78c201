/**
 * Why an IP came to this node, for VIPStatus.lastTransition and the Service
 * Events: who held it before, why it moved, and how long clients were without
 * an answer. Pure: the caller passes the time.
 */
import type { MemberEvent } from './liveness/membership.ts';

export interface Transition {
  reason: 'Elected' | 'NodeFailed' | 'NodeLeft' | 'EndpointsMoved' | 'Rebalanced';
  from?: string;
  /** Measured: from the last heartbeat of a failed owner to our takeover; 0 for a planned move. */
  outageMs?: number;
}

interface Departure {
  kind: 'failed' | 'left';
  /** For a failure: when the node was last heard; for a leave: when it said so. */
  lastHeardAt: number;
}

export class TransitionTracker {
  private readonly departures = new Map<string, Departure>();
  /** IP → the owner before the latest change, and when ownership changed. */
  private readonly moves = new Map<string, { from: string | undefined; live: boolean }>();

  memberEvent(event: MemberEvent, now: number): void {
    if (event.type === 'failed') this.departures.set(event.node, { kind: 'failed', lastHeardAt: now - event.silentForMs });
    else if (event.type === 'left') this.departures.set(event.node, { kind: 'left', lastHeardAt: now });
    else if (event.type === 'joined') this.departures.delete(event.node);
  }

  /** Called with every election result; remembers where each IP came from. */
  ownersChanged(previous: ReadonlyMap<string, string | undefined>, next: ReadonlyMap<string, string | undefined>, live: ReadonlySet<string>): void {
    for (const [ip, owner] of next) {
      const before = previous.get(ip);
      if (before !== owner) this.moves.set(ip, { from: before, live: before !== undefined && live.has(before) });
    }
  }

  /** The transition that brought `ip` here, measured at `announcedAt`. */
  transitionFor(ip: string, announcedAt: number): Transition {
    const move = this.moves.get(ip);
    if (!move?.from) return { reason: 'Elected' };
    const departure = this.departures.get(move.from);
    if (departure?.kind === 'failed') return { reason: 'NodeFailed', from: move.from, outageMs: Math.max(0, Math.round(announcedAt - departure.lastHeardAt)) };
    if (departure?.kind === 'left') return { reason: 'NodeLeft', from: move.from, outageMs: 0 };
    return { reason: move.live ? 'EndpointsMoved' : 'Rebalanced', from: move.from };
  }
}

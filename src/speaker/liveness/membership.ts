import type { Heartbeat } from './heartbeat.ts';

export interface MembershipOptions {
  /** This speaker's node name: always live until it leaves. */
  self: string;
  /** How often every speaker sends a heartbeat. */
  intervalMs: number;
  /** A member silent for this many intervals is failed. Detection time = intervalMs × missedHeartbeats. */
  missedHeartbeats: number;
  /**
   * A heartbeat whose send time (sender's clock) is further than this from its arrival (our
   * clock) is refused as stale: the bound on how long a recorded heartbeat can be replayed,
   * e.g. to a receiver that restarted and forgot the sequence numbers it had seen. Node clocks
   * must agree within it (NTP). Default DEFAULT_LIVENESS.freshnessMs.
   */
  freshnessMs?: number;
}

export const DEFAULT_LIVENESS = { intervalMs: 100, missedHeartbeats: 5, freshnessMs: 5000 } as const;

export type MemberEvent =
  | { type: 'joined'; node: string }
  | { type: 'left'; node: string }
  | { type: 'failed'; node: string; silentForMs: number }
  /** A live member's announceable interfaces changed (the L2 election depends on them). */
  | { type: 'interfacesChanged'; node: string; interfaces: string[] };

export type HeartbeatVerdict = 'accepted' | 'replayed' | 'stale' | 'self';

interface MemberRecord {
  incarnation: bigint;
  sequence: bigint;
  lastHeardAt: number;
  /** When the member's speaker started, on the sender's clock (see joinTimes). */
  startedAt: number;
  live: boolean;
  interfaces: string[];
}

/**
 * Who is alive, from heartbeats alone; pure (the caller passes the time), so every
 * rule is tested without sockets. Replays — a datagram not newer than the last one
 * accepted from that node — are dropped, so an old packet can never revive a
 * failed or departed node; and a datagram sent longer than `freshnessMs` ago is dropped
 * even by a receiver that has no record of the node (it just restarted), so a recording
 * is only good for that long.
 */
export class Membership {
  private readonly members = new Map<string, MemberRecord>();
  private selfLeaving = false;
  /** The first time this membership was told the time: this speaker's start (transport.ts beats at once). */
  private selfStartedAt: number | undefined;
  readonly counters = { accepted: 0, replayed: 0, stale: 0 };
  private readonly freshnessMs: number;

  constructor(private readonly options: MembershipOptions) {
    this.freshnessMs = options.freshnessMs ?? DEFAULT_LIVENESS.freshnessMs;
  }

  get detectionTimeMs(): number {
    return this.options.intervalMs * this.options.missedHeartbeats;
  }

  /** `skewMs` with a stale verdict: how far the send time is from `now` (positive: sent in our past). */
  receive(heartbeat: Heartbeat, now: number): { verdict: HeartbeatVerdict; events: MemberEvent[]; skewMs?: number } {
    this.selfStartedAt ??= now;
    if (heartbeat.node === this.options.self) return { verdict: 'self', events: [] };
    const skewMs = now - Number(heartbeat.sentAt);
    if (Math.abs(skewMs) > this.freshnessMs) {
      this.counters.stale++;
      return { verdict: 'stale', events: [], skewMs };
    }
    const known = this.members.get(heartbeat.node);
    if (known && !isNewer(heartbeat, known)) {
      this.counters.replayed++;
      return { verdict: 'replayed', events: [] };
    }
    this.counters.accepted++;
    const wasLive = known?.live ?? false;
    const live = !heartbeat.leaving;
    this.members.set(heartbeat.node, {
      incarnation: heartbeat.incarnation,
      sequence: heartbeat.sequence,
      lastHeardAt: now,
      // A start "later than now" is clock skew: it started at the latest when we heard it.
      startedAt: Math.min(Number(heartbeat.incarnation), now),
      live,
      interfaces: heartbeat.interfaces,
    });
    const events: MemberEvent[] = [];
    if (live && !wasLive) events.push({ type: 'joined', node: heartbeat.node });
    if (!live && wasLive) events.push({ type: 'left', node: heartbeat.node });
    if (live && wasLive && !sameList(known?.interfaces ?? [], heartbeat.interfaces)) events.push({ type: 'interfacesChanged', node: heartbeat.node, interfaces: heartbeat.interfaces });
    return { verdict: 'accepted', events };
  }

  /** Fails every member silent for longer than the detection time. */
  tick(now: number): MemberEvent[] {
    this.selfStartedAt ??= now;
    const events: MemberEvent[] = [];
    for (const [node, member] of this.members) {
      const silentForMs = now - member.lastHeardAt;
      if (member.live && silentForMs > this.detectionTimeMs) {
        member.live = false;
        events.push({ type: 'failed', node, silentForMs });
      }
    }
    return events;
  }

  /** This speaker is stopping: it no longer counts itself, so its own election hands its IPs over. */
  leave(): void {
    this.selfLeaving = true;
  }

  live(): Set<string> {
    const names = [...this.members].filter(([, member]) => member.live).map(([node]) => node);
    if (!this.selfLeaving) names.push(this.options.self);
    return new Set(names);
  }

  /**
   * When each live node joined, for failbackDelay: the start of its speaker, as its heartbeat's
   * incarnation says (transport.ts: the start time in ms). Not when this node first heard it:
   * that differs from node to node, and after a partition heals each side would see the other
   * as the newcomer and keep its IPs (both answering). A start time is one number every node
   * reads alike (up to clock skew), and a healed partition is not a restart, so its nodes
   * re-elect at once. This node's own entry is its first tick. Not yet told the time: empty.
   */
  joinTimes(): Map<string, number> {
    const times = new Map<string, number>();
    for (const [node, member] of this.members) if (member.live) times.set(node, member.startedAt);
    if (!this.selfLeaving && this.selfStartedAt !== undefined) times.set(this.options.self, this.selfStartedAt);
    return times;
  }

  interfacesOf(node: string): string[] | undefined {
    return this.members.get(node)?.interfaces;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => b[index] === value);
}

function isNewer(heartbeat: Heartbeat, known: MemberRecord): boolean {
  if (heartbeat.incarnation !== known.incarnation) return heartbeat.incarnation > known.incarnation;
  return heartbeat.sequence > known.sequence;
}

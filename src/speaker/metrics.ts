/**
 * The speaker's Prometheus series, all defined here (docs/metrics.md lists them with
 * their MetalLB equivalents). Most are read at scrape time from what the announcers and
 * the liveness agent already count; the few event counters are fed by NodeSpeaker.
 * `announcementDrift` is the pure part: intent against what is really announced.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SessionStats } from '../bgp/session.ts';
import type { PeerSessionStatus } from './bgp/announcer.ts';
import type { IpFrameCounts } from './l2/announcer.ts';
import type { ServiceRef } from './vipstatus.ts';

export type Protocol = 'layer2' | 'bgp';

/** One IP announced (or meant to be) by one protocol, with the Services holding it. */
export interface Announcement {
  ip: string;
  protocol: Protocol;
  services: readonly ServiceRef[];
}

export interface Drift {
  ip: string;
  protocol: Protocol;
  /** `NotAnnounced`: meant to be announced and is not; `NotIntended`: announced and no longer meant to be. */
  kind: 'NotAnnounced' | 'NotIntended';
}

/** A BGP session's message counters (cumulative over its reconnections). */
export type SessionCounters = Pick<SessionStats, 'updatesSent' | 'notificationsSent' | 'notificationsReceived'>;

export function sessionCounters(stats: Readonly<SessionStats> | undefined): SessionCounters {
  return { updatesSent: stats?.updatesSent ?? 0, notificationsSent: stats?.notificationsSent ?? 0, notificationsReceived: stats?.notificationsReceived ?? 0 };
}

/** What the speaker reads at scrape time. */
export interface SpeakerMetricSources {
  node: string;
  intended(): Announcement[];
  announced(): Announcement[];
  l2Frames(): ReadonlyMap<string, IpFrameCounts> | undefined;
  bgpSessions(): Array<PeerSessionStatus & SessionCounters>;
  liveMembers(): number;
  heartbeatsRefused(): { unauthenticated: number; malformed: number };
}

export function announcementDrift(intended: readonly Announcement[], announced: readonly Announcement[]): Drift[] {
  const key = (a: Announcement) => `${a.protocol} ${a.ip}`;
  const want = new Set(intended.map(key));
  const have = new Set(announced.map(key));
  return [
    ...intended.filter((a) => !have.has(key(a))).map((a) => ({ ip: a.ip, protocol: a.protocol, kind: 'NotAnnounced' as const })),
    ...announced.filter((a) => !want.has(key(a))).map((a) => ({ ip: a.ip, protocol: a.protocol, kind: 'NotIntended' as const })),
  ];
}

/** Failover buckets, seconds: the product aims below 1 s (100 ms heartbeats, 5 missed). */
const FAILOVER_BUCKETS = [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30];

export class SpeakerMetrics {
  readonly failoverSeconds: Histogram<'ip' | 'reason'>;
  readonly conflicts: Counter<'ip'>;
  readonly memberEvents: Counter<'event'>;

  constructor(registry: Registry, sources: SpeakerMetricSources) {
    const registers = [registry];
    const node = sources.node;
    const perAnnouncement = (name: string, help: string, list: () => Announcement[]) =>
      new Gauge({
        name,
        help,
        labelNames: ['service', 'protocol', 'node', 'ip'],
        registers,
        collect() {
          this.reset();
          for (const a of list()) for (const s of a.services) this.set({ service: `${s.namespace}/${s.name}`, protocol: a.protocol, node, ip: a.ip }, 1);
        },
      });
    perAnnouncement('anchorlb_speaker_announced', 'Service IPs this node means to announce (intent), by protocol', () => sources.intended());
    perAnnouncement('anchorlb_speaker_announced_actual', 'Service IPs this node really announces: L2 answered, BGP carried by an Established session', () => sources.announced());
    new Gauge({
      name: 'anchorlb_speaker_announce_drift',
      help: 'IPs whose real announcement differs from the intent (1 per IP and protocol)',
      labelNames: ['protocol', 'node', 'ip', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const drift of announcementDrift(sources.intended(), sources.announced())) this.set({ ...drift, node }, 1);
      },
    });
    const l2Counter = (name: string, help: string, field: keyof IpFrameCounts) =>
      new Counter({
        name,
        help,
        labelNames: ['ip'],
        registers,
        collect() {
          this.reset();
          for (const [ip, counts] of sources.l2Frames() ?? []) this.inc({ ip }, counts[field]);
        },
      });
    l2Counter('anchorlb_layer2_requests_received_total', 'ARP requests and neighbor solicitations received for an IP this node holds', 'requestsReceived');
    l2Counter('anchorlb_layer2_responses_sent_total', 'ARP replies and neighbor advertisements sent for an IP', 'responsesSent');
    l2Counter('anchorlb_layer2_gratuitous_sent_total', 'Gratuitous ARP / unsolicited neighbor advertisements sent for an IP', 'gratuitousSent');
    this.conflicts = new Counter({ name: 'anchorlb_layer2_conflicts_total', help: 'Times another host was found answering for an IP this node was to announce', labelNames: ['ip'], registers });
    new Gauge({
      name: 'anchorlb_bgp_session_up',
      help: 'BGP session of this node with a peer is Established (1) or not (0)',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const session of sources.bgpSessions()) this.set({ peer: session.peer }, session.state === 'Established' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'anchorlb_bgp_announced_prefixes',
      help: 'Prefixes advertised to a peer now',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const session of sources.bgpSessions()) this.set({ peer: session.peer }, session.prefixesSent);
      },
    });
    const bgpCounter = (name: string, help: string, field: keyof SessionCounters) =>
      new Counter({
        name,
        help,
        labelNames: ['peer'],
        registers,
        collect() {
          this.reset();
          for (const session of sources.bgpSessions()) this.inc({ peer: session.peer }, session[field]);
        },
      });
    bgpCounter('anchorlb_bgp_updates_total', 'UPDATE messages sent to a peer', 'updatesSent');
    bgpCounter('anchorlb_bgp_notifications_sent_total', 'NOTIFICATION messages sent to a peer', 'notificationsSent');
    bgpCounter('anchorlb_bgp_notifications_received_total', 'NOTIFICATION messages received from a peer', 'notificationsReceived');
    new Gauge({
      name: 'anchorlb_bfd_session_up',
      help: 'BFD session with a BGP peer that has a bfdProfile is Up (1) or not (0)',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const session of sources.bgpSessions()) if (session.bfd) this.set({ peer: session.peer }, session.bfd.state === 'Up' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'anchorlb_speaker_members',
      help: 'Live speakers as this node sees them (itself included)',
      registers,
      collect() {
        this.set(sources.liveMembers());
      },
    });
    this.memberEvents = new Counter({ name: 'anchorlb_speaker_member_events_total', help: 'Membership changes seen: joined, left, failed (heartbeats lost)', labelNames: ['event'], registers });
    new Counter({
      name: 'anchorlb_speaker_heartbeats_refused_total',
      help: 'Heartbeats refused, by reason (bad signature, malformed)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of Object.entries(sources.heartbeatsRefused())) this.inc({ reason }, count);
      },
    });
    this.failoverSeconds = new Histogram({
      name: 'anchorlb_failover_duration_seconds',
      help: 'Measured outage of an L2 takeover by this node: from the failed owner\'s last heartbeat to our gratuitous ARP / NA (0 for a planned move)',
      labelNames: ['ip', 'reason'],
      buckets: FAILOVER_BUCKETS,
      registers,
    });
  }
}

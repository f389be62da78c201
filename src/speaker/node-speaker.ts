/**
 * One node's speaker with its real network side: the Speaker core (watch, liveness,
 * desired state) wired to the L2 and BGP announcers, the BGPPeer status writer and
 * VIPStatus, which report what the announcers actually do, never what was intended.
 */
import type { Registry } from 'prom-client';
import type { KubeConnection } from '../kube/connection.ts';
import type { Logger } from '../common/log.ts';
import { EventRecorder } from '../kube/events.ts';
import { KubeRest } from '../kube/rest.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import { BgpAnnouncer, type BindFailure } from './bgp/announcer.ts';
import { peersCarrying } from './bgp/carried.ts';
import { BgpPeerStatusWriter } from './bgp/peer-status.ts';
import { bindings, defaultBindStateFile, wantedBindings } from './bind.ts';
import { L2Announcer, type L2AnnouncerEvent } from './l2/announcer.ts';
import { LinkWatcher, readLinkState, type LinkChange, type LinkState } from './l2/links.ts';
import { SpeakerMetrics, sessionCounters, type Announcement } from './metrics.ts';
import { Speaker } from './speaker.ts';
import { VipStatusWriter, type AnnouncedVip, type ServiceRef } from './vipstatus.ts';

export interface NodeSpeakerOptions {
  kubeConfig: KubeConnection;
  nodeName: string;
  namespace: string;
  loadBalancerClass?: string;
  modes: { l2: boolean; bgp: boolean };
  logger: Logger;
  liveness: { key: Buffer; port: number; intervalMs: number; missedHeartbeats: number; bindAddress?: string };
  /** Interfaces to announce from when an L2Advertisement names none (default: discovered); those present count. */
  interfaces?: string[];
  /** The node's own addresses (router ID, default BGP source). */
  nodeAddresses: string[];
  /** Record of the addresses bound to interfaces, so a restart removes what a killed run left (default: defaultBindStateFile). */
  bindStateFile?: string;
  /** Where the speaker's series go (src/speaker/metrics.ts); none: not measured. */
  registry?: Registry;
}

/** How long a leaving speaker tries to delete its VIPStatus objects (the API server may be gone too). */
const VIPSTATUS_CLEANUP_MS = 5000;

interface L2Held {
  interface: string;
  since: string;
}

export class NodeSpeaker {
  readonly speaker: Speaker;
  readonly l2?: L2Announcer;
  readonly bgp?: BgpAnnouncer;
  private readonly rest: KubeRest;
  private readonly events: EventRecorder;
  private readonly peerStatus?: BgpPeerStatusWriter;
  private readonly vipStatus: VipStatusWriter;
  private readonly l2Held = new Map<string, L2Held>();
  /** IP → when a BGP session of this node first carried it (Established), for VIPStatus.since. */
  private readonly bgpSince = new Map<string, string>();
  /** Status writes are debounced through one key each, retried with back-off on failure. */
  private readonly writes: WorkQueue;
  /** The links read at construction; watched from start() on. */
  private readonly initialLinks: LinkState;
  private links: LinkWatcher | undefined;
  /** IP → what was last reported about this node having none of its advertisements' interfaces. */
  private readonly noInterfaceReported = new Map<string, string>();
  private readonly metrics?: SpeakerMetrics;

  constructor(private readonly options: NodeSpeakerOptions) {
    const { logger, nodeName } = options;
    this.rest = new KubeRest(options.kubeConfig);
    this.events = new EventRecorder(this.rest, 'anchorlb-speaker', logger);
    // Throws RawAccessError (no addon, no CAP_NET_RAW) before anything starts: L2 mode cannot run without raw frames.
    if (options.modes.l2) this.l2 = new L2Announcer({ logger, ...(options.interfaces ? { interfaces: options.interfaces } : {}) });
    if (options.modes.bgp) {
      this.bgp = new BgpAnnouncer({ nodeName, nodeAddresses: options.nodeAddresses, log: logger });
      this.peerStatus = new BgpPeerStatusWriter({ rest: this.rest, namespace: options.namespace, nodeName, log: logger });
    }
    this.vipStatus = new VipStatusWriter(this.rest, nodeName, logger);
    this.initialLinks = readLinkState();
    const l2 = this.l2;
    const bgp = this.bgp;
    this.speaker = new Speaker({
      kubeConfig: options.kubeConfig,
      nodeName,
      namespace: options.namespace,
      loadBalancerClass: options.loadBalancerClass,
      logger,
      // The election checks advertisement interfaces against what each node has: tell the others ours.
      liveness: { ...options.liveness, interfaces: this.interfacesFrom(this.initialLinks) },
      ...(l2 ? { l2: { apply: (a) => l2.apply(a), handOver: () => l2.handOver(), stop: () => l2.stop() } } : {}),
      ...(bgp ? { bgp: { apply: (d) => bgp.apply(d), gracefulStop: () => bgp.gracefulStop() } } : {}),
    });
    this.writes = new WorkQueue((key) => (key === 'peers' ? this.writePeerStatus() : this.writeVipStatus()), {
      backoffBaseMs: 500,
      onError: (key, error, retryInMs) => logger.warn({ key, err: error instanceof Error ? error.message : String(error), retryInMs }, 'status write failed'),
    });
    if (options.registry) this.metrics = this.measure(options.registry);
    this.l2?.onEvent((event) => void this.onL2Event(event));
    // A node back from a partition may have pulled clients to itself: say again who holds our IPs.
    this.speaker.liveness.onEvent((event) => {
      if (event.type === 'joined' || event.type === 'left' || event.type === 'failed') this.metrics?.memberEvents.inc({ event: event.type });
      if (event.type === 'joined') this.l2?.reannounce();
    });
    this.bgp?.on('bindFailed', (failure: BindFailure) => void this.reportBindFailure(failure, 'BGP'));
    this.bgp?.on('status', () => {
      this.writes.add('peers');
      this.writes.add('vips');
    });
    this.speaker.onSync((view) => {
      this.writes.add('peers');
      this.writes.add('vips');
      void this.reportNoMatchingInterface(view.l2?.noMatchingInterface ?? new Map());
    });
  }

  private measure(registry: Registry): SpeakerMetrics {
    const { l2, bgp, speaker } = this;
    return new SpeakerMetrics(registry, {
      node: this.options.nodeName,
      intended: () => this.intended(),
      announced: () => this.announced().map((vip) => ({ ip: vip.ip, protocol: vip.mode === 'L2' ? 'layer2' : 'bgp', services: vip.services })),
      l2Frames: () => l2?.framesByIp,
      bgpSessions: () => (bgp ? bgp.status().map((status) => ({ ...status, ...sessionCounters(bgp.sessionStats(status.peer)) })) : []),
      liveMembers: () => speaker.liveness.membership.live().size,
      heartbeatsRefused: () => ({ unauthenticated: speaker.liveness.counters.unauthenticated, malformed: speaker.liveness.counters.malformed }),
    });
  }

  /** What the desired state says this node announces: the L2 IPs it owns, the BGP routes of its sessions. */
  private intended(): Announcement[] {
    const view = this.speaker.view;
    const l2: Announcement[] = [...(view.l2?.announcements.keys() ?? [])].map((ip) => ({ ip, protocol: 'layer2', services: this.servicesOn(ip) }));
    const bgpIps = new Set((view.bgp?.sessions ?? []).flatMap((session) => [...session.prefixes.keys()].map((prefix) => prefix.split('/')[0] ?? prefix)));
    return [...l2, ...[...bgpIps].map((ip): Announcement => ({ ip, protocol: 'bgp', services: this.servicesOn(ip) }))];
  }

  /** The interfaces this node announces from when an advertisement names none: the listed ones present, else the announceable ones. */
  private interfacesFrom(links: LinkState): string[] {
    return this.options.interfaces ? this.options.interfaces.filter((name) => links.indexes.has(name)) : links.announceable;
  }

  async start(): Promise<void> {
    const { nodeName, logger, bindStateFile = defaultBindStateFile(nodeName) } = this.options;
    await bindings.init({ stateFile: bindStateFile, nodeName, logger });
    // Level-triggered: a leftover of a killed run goes once a desired state does not want it.
    this.speaker.onSync((view) => void bindings.releaseLeftovers(wantedBindings(view)).catch((error: unknown) => logger.error({ err: String(error) }, 'bindToInterface: cannot remove a leftover address')));
    await this.speaker.start();
    // Interfaces that come or go from now on (a change since the constructor is seen at once).
    this.links = new LinkWatcher({ logger, initial: this.initialLinks, onChange: (links, change) => this.onLinksChanged(links, change) });
    this.links.start();
  }

  private onLinksChanged(links: LinkState, change: LinkChange): void {
    // Sockets on links gone or re-created are closed first; the election then runs with the new list.
    this.l2?.linksChanged(links.indexes);
    const interfaces = this.interfacesFrom(links);
    // A link this node does not announce from (e.g. a pod's veth when the interfaces are listed) changes nothing else.
    const elected = this.speaker.setInterfaces(interfaces);
    this.options.logger[elected ? 'info' : 'debug']({ added: change.added, removed: change.removed, recreated: change.recreated, interfaces }, 'network interfaces changed');
  }

  /** Once per change: a log line and a Warning Event on the Services, so an IP is never silently not announced. */
  private async reportNoMatchingInterface(unmatched: ReadonlyMap<string, string[]>): Promise<void> {
    const { logger, nodeName } = this.options;
    const has = [...this.speaker.interfaces];
    for (const [ip, wanted] of unmatched) {
      const report = `${nodeName} has none of the interfaces its L2Advertisements name for ${ip} (${wanted.join(', ')}; it has ${has.length > 0 ? has.join(', ') : 'none'}): not announced from this node`;
      if (this.noInterfaceReported.get(ip) === report) continue;
      this.noInterfaceReported.set(ip, report);
      logger.warn({ ip, wanted, interfaces: has }, 'no matching interface on this node');
      for (const service of this.servicesOn(ip)) await this.events.record({ apiVersion: 'v1', kind: 'Service', ...service }, 'Warning', 'NoMatchingInterface', report);
    }
    for (const ip of [...this.noInterfaceReported.keys()]) {
      if (unmatched.has(ip)) continue;
      this.noInterfaceReported.delete(ip);
      logger.info({ ip, interfaces: has }, 'a matching interface is on this node now (or the IP no longer asks for one)');
    }
  }

  /**
   * SIGTERM: leave, hand over, restart BGP gracefully (no Cease), then delete this node's
   * VIPStatus: it announces nothing any more, and no one else removes a node's objects.
   */
  async shutdown(): Promise<void> {
    this.links?.stop();
    await this.speaker.shutdown();
    this.writes.stop();
    // A write still running could recreate what the final one deletes.
    await this.writes.idle();
    this.l2Held.clear();
    this.bgpSince.clear();
    const gaveUp = new Promise<'timeout'>((resolve) => setTimeout(resolve, VIPSTATUS_CLEANUP_MS, 'timeout').unref());
    const cleanup = this.vipStatus.write([]).then(
      () => 'done' as const,
      (error: unknown) => error,
    );
    const outcome = await Promise.race([cleanup, gaveUp]);
    if (outcome !== 'done') this.options.logger.warn({ err: outcome instanceof Error ? outcome.message : String(outcome) }, 'leaving: could not delete this node\'s VIPStatus objects');
  }

  private async onL2Event(event: L2AnnouncerEvent): Promise<void> {
    const logger = this.options.logger;
    if (event.type === 'announced') {
      if (this.l2Held.has(event.ip)) return;
      this.l2Held.set(event.ip, { interface: event.interface, since: new Date().toISOString() });
      const transition = this.speaker.transitions.transitionFor(event.ip, Date.now());
      if (transition.outageMs !== undefined) this.metrics?.failoverSeconds.observe({ ip: event.ip, reason: transition.reason }, transition.outageMs / 1000);
      const moved = transition.from ? `, moved from ${transition.from}: ${transition.reason}${transition.outageMs !== undefined ? `, ${transition.outageMs} ms` : ''}` : '';
      for (const service of this.servicesOn(event.ip)) {
        await this.events.record({ apiVersion: 'v1', kind: 'Service', ...service }, 'Normal', 'Announced', `${event.ip} announced from ${this.options.nodeName} via L2 on ${event.interface}${moved}`);
      }
    } else if (event.type === 'withdrawn') {
      this.l2Held.delete(event.ip);
    } else if (event.type === 'bindFailed') {
      await this.reportBindFailure(event, 'L2');
    } else if (event.type === 'conflict') {
      logger.warn(event, 'another host answers for this IP: not announcing it');
      this.metrics?.conflicts.inc({ ip: event.ip });
      for (const service of this.servicesOn(event.ip)) {
        await this.events.record({ apiVersion: 'v1', kind: 'Service', ...service }, 'Warning', 'Conflict', `${event.ip}: ${event.foreignMac} on ${event.interface} already answers for it; ${this.options.nodeName} does not announce it and probes again in ${Math.round(event.retryInMs / 1000)}s`);
      }
    }
    this.writes.add('vips');
  }

  /** Where the user looks: `kubectl describe service` (the announcer has logged it with the record's path). */
  private async reportBindFailure(failure: BindFailure, mode: 'L2' | 'BGP'): Promise<void> {
    for (const service of this.servicesOn(failure.ip)) {
      await this.events.record(
        { apiVersion: 'v1', kind: 'Service', ...service },
        'Warning',
        'BindFailed',
        `${failure.ip} is announced by ${mode} from ${this.options.nodeName} but not held on ${failure.interface} (bindToInterface): ${failure.error}`,
      );
    }
  }

  private servicesOn(ip: string): ServiceRef[] {
    return this.speaker.view.servicesByIp.get(ip) ?? [];
  }

  private async writePeerStatus(): Promise<void> {
    if (!this.peerStatus || !this.bgp) return;
    const view = this.speaker.view;
    await this.peerStatus.write({ peers: view.peers, sessions: this.bgp.status(), conflicts: view.peerConflicts });
  }

  private async writeVipStatus(): Promise<void> {
    await this.vipStatus.write(this.announced());
  }

  /** What this node really announces: L2 from the announcer's events, BGP from Established sessions carrying the route. */
  private announced(): AnnouncedVip[] {
    const announced: AnnouncedVip[] = [];
    for (const [ip, held] of this.l2Held) {
      const transition = this.speaker.transitions.transitionFor(ip, Date.parse(held.since));
      announced.push({ ip, mode: 'L2', services: this.servicesOn(ip), status: { interface: held.interface, since: held.since, lastTransition: transition } });
    }
    if (this.bgp) {
      const bgp = this.bgp;
      // Only routes an Established session really carries (a drained, withdrawn route is not announced).
      const carried = bgp.status().map((status) => ({ peer: status.peer, prefixes: bgp.announcedPrefixes(status.peer) }));
      const byIp = new Map([...peersCarrying(this.speaker.view.servicesByIp.keys(), carried)].map(([ip, peers]) => [ip, peers.map((name) => ({ name, state: 'Established' as const, advertised: true }))]));
      for (const ip of this.bgpSince.keys()) if (!byIp.has(ip)) this.bgpSince.delete(ip);
      for (const [ip, peers] of byIp) {
        const since = this.bgpSince.get(ip) ?? new Date().toISOString();
        this.bgpSince.set(ip, since);
        announced.push({ ip, mode: 'BGP', services: this.servicesOn(ip), status: { peers, since } });
      }
    }
    return announced;
  }
}

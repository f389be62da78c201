/**
 * One node's speaker with its real network side: the Speaker core (watch, liveness,
 * desired state) wired to the L2 and BGP announcers, the BGPPeer status writer and
 * VIPStatus, which report what the announcers actually do, never what was intended.
 */
import type { KubeConnection } from '../kube/connection.ts';
import type { Logger } from '../common/log.ts';
import { EventRecorder } from '../kube/events.ts';
import { KubeRest } from '../kube/rest.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import { BgpAnnouncer } from './bgp/announcer.ts';
import { aggregatePrefix } from './bgp/desired.ts';
import { BgpPeerStatusWriter } from './bgp/peer-status.ts';
import { bindings, defaultBindStateFile, wantedBindings } from './bind.ts';
import { L2Announcer, type L2AnnouncerEvent } from './l2/announcer.ts';
import { discoverInterfaces } from './l2/interfaces.ts';
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
  /** Interfaces to announce from when an L2Advertisement names none (default: discovered). */
  interfaces?: string[];
  /** The node's own addresses (router ID, default BGP source). */
  nodeAddresses: string[];
  /** Record of the addresses bound to interfaces, so a restart removes what a killed run left (default: defaultBindStateFile). */
  bindStateFile?: string;
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
    const l2 = this.l2;
    const bgp = this.bgp;
    this.speaker = new Speaker({
      kubeConfig: options.kubeConfig,
      nodeName,
      namespace: options.namespace,
      loadBalancerClass: options.loadBalancerClass,
      logger,
      // The election checks advertisement interfaces against what each node has: tell the others ours.
      liveness: { ...options.liveness, interfaces: options.interfaces ?? discoverInterfaces() },
      ...(l2 ? { l2: { apply: (a) => l2.apply(a), handOver: () => l2.handOver(), stop: () => l2.stop() } } : {}),
      ...(bgp ? { bgp: { apply: (d) => bgp.apply(d), gracefulStop: () => bgp.gracefulStop() } } : {}),
    });
    this.writes = new WorkQueue((key) => (key === 'peers' ? this.writePeerStatus() : this.writeVipStatus()), {
      backoffBaseMs: 500,
      onError: (key, error, retryInMs) => logger.warn({ key, err: error instanceof Error ? error.message : String(error), retryInMs }, 'status write failed'),
    });
    this.l2?.onEvent((event) => void this.onL2Event(event));
    // A node back from a partition may have pulled clients to itself: say again who holds our IPs.
    this.speaker.liveness.onEvent((event) => {
      if (event.type === 'joined') this.l2?.reannounce();
    });
    this.bgp?.on('status', () => {
      this.writes.add('peers');
      this.writes.add('vips');
    });
    this.speaker.onSync(() => {
      this.writes.add('peers');
      this.writes.add('vips');
    });
  }

  async start(): Promise<void> {
    const { nodeName, logger, bindStateFile = defaultBindStateFile(nodeName) } = this.options;
    await bindings.init({ stateFile: bindStateFile, nodeName, logger });
    // Level-triggered: a leftover of a killed run goes once a desired state does not want it.
    this.speaker.onSync((view) => void bindings.releaseLeftovers(wantedBindings(view)).catch((error: unknown) => logger.error({ err: String(error) }, 'bindToInterface: cannot remove a leftover address')));
    await this.speaker.start();
  }

  /**
   * SIGTERM: leave, hand over, restart BGP gracefully (no Cease), then delete this node's
   * VIPStatus: it announces nothing any more, and no one else removes a node's objects.
   */
  async shutdown(): Promise<void> {
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
      const moved = transition.from ? `, moved from ${transition.from}: ${transition.reason}${transition.outageMs !== undefined ? `, ${transition.outageMs} ms` : ''}` : '';
      for (const service of this.servicesOn(event.ip)) {
        await this.events.record({ apiVersion: 'v1', kind: 'Service', ...service }, 'Normal', 'Announced', `${event.ip} announced from ${this.options.nodeName} via L2 on ${event.interface}${moved}`);
      }
    } else if (event.type === 'withdrawn') {
      this.l2Held.delete(event.ip);
    } else if (event.type === 'conflict') {
      logger.warn(event, 'another host answers for this IP: not announcing it');
      for (const service of this.servicesOn(event.ip)) {
        await this.events.record({ apiVersion: 'v1', kind: 'Service', ...service }, 'Warning', 'Conflict', `${event.ip}: ${event.foreignMac} on ${event.interface} already answers for it; ${this.options.nodeName} does not announce it and probes again in ${Math.round(event.retryInMs / 1000)}s`);
      }
    }
    this.writes.add('vips');
  }

  private servicesOn(ip: string): ServiceRef[] {
    return this.speaker.view.servicesByIp.get(ip) ?? [];
  }

  private async writePeerStatus(): Promise<void> {
    if (!this.peerStatus || !this.bgp) return;
    const view = this.speaker.view;
    await this.peerStatus.write({ peers: view.peers, sessions: this.bgp.status(), conflicts: view.peerConflicts });
  }

  /** What this node really announces: L2 from the announcer's events, BGP from Established sessions carrying the route. */
  private async writeVipStatus(): Promise<void> {
    const announced: AnnouncedVip[] = [];
    for (const [ip, held] of this.l2Held) {
      const transition = this.speaker.transitions.transitionFor(ip, Date.parse(held.since));
      announced.push({ ip, mode: 'L2', services: this.servicesOn(ip), status: { interface: held.interface, since: held.since, lastTransition: transition } });
    }
    if (this.bgp) {
      const bgp = this.bgp;
      const carried = bgp.status().map((status) => ({ peer: status.peer, prefixes: [...bgp.announcedPrefixes(status.peer)] }));
      const byIp = new Map<string, Array<{ name: string; state: 'Established'; advertised: boolean }>>();
      for (const ip of this.speaker.view.servicesByIp.keys()) {
        // Only routes an Established session really carries (a drained, withdrawn route is not announced).
        for (const { peer, prefixes } of carried) {
          if (!prefixes.some((prefix) => prefixHolds(prefix, ip))) continue;
          const peers = byIp.get(ip) ?? [];
          if (!peers.some((p) => p.name === peer)) peers.push({ name: peer, state: 'Established', advertised: true });
          byIp.set(ip, peers);
        }
      }
      for (const ip of this.bgpSince.keys()) if (!byIp.has(ip)) this.bgpSince.delete(ip);
      for (const [ip, peers] of byIp) {
        const since = this.bgpSince.get(ip) ?? new Date().toISOString();
        this.bgpSince.set(ip, since);
        announced.push({ ip, mode: 'BGP', services: this.servicesOn(ip), status: { peers, since } });
      }
    }
    await this.vipStatus.write(announced);
  }
}

/** Whether a route (a host route or an aggregate such as 192.0.2.0/24) covers an address. */
function prefixHolds(prefix: string, ip: string): boolean {
  const length = Number(prefix.split('/')[1]);
  return aggregatePrefix(ip, { aggregationLength: length, aggregationLengthV6: length }) === prefix;
}

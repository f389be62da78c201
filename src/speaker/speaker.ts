/**
 * The speaker process on one node: watches the cluster, keeps the liveness view
 * with the other speakers, and after every change re-derives what this node must
 * announce (pure functions) and hands it to the L2 and BGP appliers (I/O).
 * Level-triggered: one 'sync' recomputes everything, so a missed event heals.
 */
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import type { KubeConnection } from '../kube/connection.ts';
import { GROUP, PLURALS, VERSION, type BFDProfile, type BGPAdvertisement, type BGPPeer, type Community, type IPAddressPool, type L2Advertisement } from '../api/index.ts';
import type { Logger } from '../common/log.ts';
import { Informer, type KubeObject } from '../kube/informer.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import { clusterPeerConflicts, desiredBgpState, type BgpPeerView, type DesiredBgpState, type RefusedPeer } from './bgp/desired.ts';
import { localNodeView, passwordSecretNames, toBgpState, toL2State, type ClusterSnapshot, type SnapshotProblem } from './cluster-state.ts';
import { desiredL2State, type L2Announcement, type L2Desired } from './l2-desired.ts';
import { LivenessAgent } from './liveness/transport.ts';
import { NamedSecrets } from './named-secrets.ts';
import { TransitionTracker } from './transitions.ts';
import type { ServiceRef } from './vipstatus.ts';

export interface L2Applier {
  /** Answer for exactly these IPs from now on. */
  apply(announcements: ReadonlyMap<string, L2Announcement>): Promise<void> | void;
  /** Planned move: keep answering until the successors have taken over (or a timeout), then let go. */
  handOver?(): Promise<void>;
  stop(): Promise<void>;
}

export interface BgpApplier {
  apply(desired: DesiredBgpState): Promise<void>;
  /** Planned restart: no Cease, so routers keep forwarding under graceful restart. */
  gracefulStop(): Promise<void>;
}

export interface SpeakerOptions {
  kubeConfig: KubeConnection;
  nodeName: string;
  /** Namespace of the anchorlb objects (pools, advertisements, peers, the liveness Secret). */
  namespace: string;
  loadBalancerClass?: string;
  logger: Logger;
  liveness: { key: Buffer; port: number; intervalMs: number; missedHeartbeats: number; bindAddress?: string; interfaces: string[] };
  l2?: L2Applier;
  bgp?: BgpApplier;
  /** How long a leaving speaker keeps answering for its successor at most. */
  handOverMs?: number;
}

const SYNC = 'sync';

export interface SpeakerView {
  l2: L2Desired | undefined;
  bgp: DesiredBgpState | undefined;
  problems: SnapshotProblem[];
  /** Every BGPPeer name, and the cluster-wide clashes between them (for their status). */
  peers: string[];
  peerConflicts: RefusedPeer[];
  /** Service IP → the Services holding it (for VIPStatus and Events). */
  servicesByIp: Map<string, ServiceRef[]>;
}

export class Speaker {
  readonly liveness: LivenessAgent;
  readonly transitions = new TransitionTracker();
  private readonly informers;
  /** The BGPPeers' password Secrets, read by name (the speaker may read no other). */
  private readonly secrets: NamedSecrets;
  private readonly queue: WorkQueue;
  private last: SpeakerView = { l2: undefined, bgp: undefined, problems: [], peers: [], peerConflicts: [], servicesByIp: new Map() };
  private readonly listeners: Array<(view: SpeakerView) => void> = [];
  private reconsiderTimer: NodeJS.Timeout | undefined;
  /** This node's announceable interfaces (setInterfaces when they change). */
  private localInterfaces: string[];
  /** The BGPPeers in force: an unusable edit of one keeps its previous version. */
  private peersInForce: BgpPeerView[] = [];

  constructor(private readonly options: SpeakerOptions) {
    const { kubeConfig, logger, namespace } = options;
    this.localInterfaces = options.liveness.interfaces;
    const crd = (kind: keyof typeof PLURALS) => `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURALS[kind]}`;
    const make = <T extends KubeObject>(path: string) => new Informer<T>(kubeConfig, { path, logger, resyncMs: 300_000 });
    this.informers = {
      services: make<V1Service>('/api/v1/services'),
      endpointSlices: make<V1EndpointSlice>('/apis/discovery.k8s.io/v1/endpointslices'),
      nodes: make<V1Node>('/api/v1/nodes'),
      pools: make<IPAddressPool>(crd('IPAddressPool')),
      l2Advertisements: make<L2Advertisement>(crd('L2Advertisement')),
      bgpAdvertisements: make<BGPAdvertisement>(crd('BGPAdvertisement')),
      bgpPeers: make<BGPPeer>(crd('BGPPeer')),
      communities: make<Community>(crd('Community')),
      bfdProfiles: make<BFDProfile>(crd('BFDProfile')),
    };
    this.secrets = new NamedSecrets({ kubeConfig, namespace, logger, resyncMs: 300_000, onChange: () => this.queue.add(SYNC) });
    this.queue = new WorkQueue(() => this.sync(), {
      onError: (_key, error, retryInMs) => logger.warn({ err: error instanceof Error ? error.message : String(error), retryInMs }, 'speaker sync failed'),
    });
    this.liveness = new LivenessAgent({
      self: options.nodeName,
      key: options.liveness.key,
      bindAddress: options.liveness.bindAddress ?? '0.0.0.0',
      port: options.liveness.port,
      interfaces: options.liveness.interfaces,
      intervalMs: options.liveness.intervalMs,
      missedHeartbeats: options.liveness.missedHeartbeats,
      logger,
    });
  }

  /** Called after every sync with what this node should announce. */
  onSync(listener: (view: SpeakerView) => void): void {
    this.listeners.push(listener);
  }

  get interfaces(): readonly string[] {
    return this.localInterfaces;
  }

  /** This node's interfaces (a link appeared or went): when they differ, told to the others and elected again; returns whether they did. */
  setInterfaces(interfaces: string[]): boolean {
    if (interfaces.length === this.localInterfaces.length && interfaces.every((name, i) => this.localInterfaces[i] === name)) return false;
    this.localInterfaces = interfaces;
    this.liveness.setInterfaces(interfaces);
    this.queue.add(SYNC);
    return true;
  }

  get view(): SpeakerView {
    return this.last;
  }

  async start(): Promise<void> {
    const all = Object.values(this.informers);
    await Promise.all(all.map((informer) => informer.start()));
    const changed = () => this.queue.add(SYNC);
    for (const informer of all) informer.on({ add: changed, update: changed, delete: changed });
    this.informers.nodes.on({ add: () => this.updateLivenessPeers(), update: () => this.updateLivenessPeers(), delete: () => this.updateLivenessPeers() });
    this.updateLivenessPeers();
    this.liveness.onEvent((event) => {
      this.transitions.memberEvent(event, Date.now());
      this.options.logger.info(event, 'membership changed');
      this.queue.add(SYNC);
    });
    await this.liveness.start();
    // Until the others have been heard, this node would see itself alone and claim every IP:
    // the first election waits one detection time, when the view has converged.
    await new Promise((resolve) => setTimeout(resolve, this.liveness.membership.detectionTimeMs));
    this.queue.add(SYNC);
    await this.queue.idle();
  }

  /** Resolves once the latest change has been applied. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * SIGTERM: tell the others this node leaves so they take over at once, keep
   * answering for a hand-over period, then stop; BGP restarts gracefully.
   */
  async shutdown(): Promise<void> {
    this.queue.stop();
    clearTimeout(this.reconsiderTimer);
    // Release first (still answering requests, no longer defending against probes), then tell
    // the others, so a successor's probe never meets a node that still defends the IP.
    const handedOver = this.options.l2?.handOver?.();
    await this.liveness.leave();
    const handOverMs = this.options.handOverMs ?? this.options.liveness.intervalMs * this.options.liveness.missedHeartbeats * 2;
    await Promise.race([handedOver, new Promise((resolve) => setTimeout(resolve, handOverMs).unref())]);
    await Promise.all([this.options.l2?.stop(), this.options.bgp?.gracefulStop()]);
    await this.liveness.stop();
    await Promise.all([...Object.values(this.informers).map((informer) => informer.stop()), this.secrets.stop()]);
  }

  snapshot(): ClusterSnapshot {
    const i = this.informers;
    return {
      services: i.services.list(),
      endpointSlices: i.endpointSlices.list(),
      nodes: i.nodes.list(),
      pools: i.pools.list(),
      l2Advertisements: i.l2Advertisements.list(),
      bgpAdvertisements: i.bgpAdvertisements.list(),
      bgpPeers: i.bgpPeers.list(),
      communities: i.communities.list(),
      bfdProfiles: i.bfdProfiles.list(),
      secrets: this.secrets.list(),
    };
  }

  private updateLivenessPeers(): void {
    const peers = this.informers.nodes
      .list()
      .filter((node) => node.metadata?.name !== this.options.nodeName)
      .flatMap((node) => {
        const address = (node.status?.addresses ?? []).find((a) => a.type === 'InternalIP')?.address;
        return address ? [{ address, port: this.options.liveness.port }] : [];
      });
    this.liveness.setPeers(peers);
  }

  private async sync(): Promise<void> {
    await this.secrets.want(passwordSecretNames(this.informers.bgpPeers.list(), this.options.namespace));
    const snapshot = this.snapshot();
    const { nodeName, loadBalancerClass } = this.options;
    const membership = this.liveness.membership;
    const l2State = this.options.l2 ? toL2State(snapshot, loadBalancerClass, (node) => (node === nodeName ? this.localInterfaces : membership.interfacesOf(node))) : undefined;
    const l2 = l2State ? desiredL2State(l2State, nodeName, membership.live(), { now: Date.now(), joinedAt: membership.joinTimes() }) : undefined;
    // A failbackDelay ends at a known time: elect again then, even if nothing else changes.
    clearTimeout(this.reconsiderTimer);
    if (l2?.reconsiderAt !== undefined) this.reconsiderTimer = setTimeout(() => this.queue.add(SYNC), Math.max(0, l2.reconsiderAt - Date.now()) + 1).unref();
    const bgpInput = this.options.bgp ? toBgpState(snapshot, loadBalancerClass, this.peersInForce) : undefined;
    if (bgpInput) this.peersInForce = bgpInput.state.peers;
    const bgp = bgpInput ? desiredBgpState(bgpInput.state, localNodeView(this.informers.nodes.get(nodeName), nodeName)) : undefined;
    if (l2) this.transitions.ownersChanged(this.last.l2?.owners ?? new Map(), l2.owners, membership.live());
    const nodes = snapshot.nodes.map((node) => ({ name: node.metadata?.name ?? '', labels: node.metadata?.labels ?? {} }));
    const previousProblems = this.last.problems;
    this.last = {
      l2,
      bgp,
      problems: bgpInput?.problems ?? [],
      peers: snapshot.bgpPeers.map((peer) => peer.metadata?.name ?? ''),
      peerConflicts: bgpInput ? clusterPeerConflicts(bgpInput.state.peers, nodes) : [],
      servicesByIp: servicesByIp(snapshot),
    };
    // Each problem is logged once, when it appears, not on every sync.
    const said = new Set(previousProblems.map((problem) => JSON.stringify(problem)));
    for (const problem of this.last.problems) if (!said.has(JSON.stringify(problem))) this.options.logger.warn(problem, 'object not usable');
    if (l2) await this.options.l2?.apply(l2.announcements);
    if (bgp) await this.options.bgp?.apply(bgp);
    for (const listener of this.listeners) listener(this.last);
  }
}

function servicesByIp(snapshot: ClusterSnapshot): Map<string, ServiceRef[]> {
  const result = new Map<string, ServiceRef[]>();
  for (const service of snapshot.services) {
    const ref: ServiceRef = { namespace: service.metadata?.namespace ?? '', name: service.metadata?.name ?? '', ...(service.metadata?.uid ? { uid: service.metadata.uid } : {}) };
    for (const entry of service.status?.loadBalancer?.ingress ?? []) {
      if (!entry.ip) continue;
      result.set(entry.ip, [...(result.get(entry.ip) ?? []), ref]);
    }
  }
  return result;
}

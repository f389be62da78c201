/**
 * Kubernetes objects → the plain views the speaker's pure desired-state
 * functions take. Pure: the speaker process feeds it from its informer caches.
 * Anything unusable is reported as a problem naming the object, field and value,
 * and costs only that object, never another's announcement.
 */
import type { V1EndpointSlice, V1Node, V1Secret, V1Service } from '@kubernetes/client-node';
import { SERVICE_ANNOTATIONS } from '../api/annotations.ts';
import { isParseError, parseAddressRange, parseIP, rangeContains } from '../api/net.ts';
import { parseDuration } from '../api/duration.ts';
import type { BFDProfile, BGPAdvertisement, BGPPeer, Community, IPAddressPool, L2Advertisement, L2Failover } from '../api/index.ts';
import type { LabelSelector } from '../common/labels.ts';
import { EXCLUDE_FROM_LB_LABEL, type NodeView } from './election.ts';
import type { BfdProfileView, BgpAdvertisementView, BgpPeerView, ClusterBgpState, LocalNodeView, ServiceView } from './bgp/desired.ts';
import type { ClusterL2State, L2AdvertisementSpecView, L2ServiceView, TakeoverTiming } from './l2-desired.ts';

export interface ClusterSnapshot {
  services: V1Service[];
  endpointSlices: V1EndpointSlice[];
  nodes: V1Node[];
  pools: IPAddressPool[];
  l2Advertisements: L2Advertisement[];
  bgpAdvertisements: BGPAdvertisement[];
  bgpPeers: BGPPeer[];
  communities: Community[];
  /** BFD profiles the peers' bfdProfile may name. */
  bfdProfiles: BFDProfile[];
  /** Secrets the peers' passwordSecret may name (the speaker's namespace). */
  secrets: V1Secret[];
}

export interface SnapshotProblem {
  object: string;
  path: string;
  value: unknown;
  message: string;
  /** True when the object keeps its last usable version in force (its session stays up as it was). */
  stale?: boolean;
}

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export function isNodeReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((condition) => condition.type === 'Ready' && condition.status === 'True');
}

/** Cordoned or labelled out of load balancing: its BGP routes are drained gracefully. */
export function localNodeView(node: V1Node | undefined, name: string): LocalNodeView {
  const labels = node?.metadata?.labels ?? {};
  return { name, labels, draining: node?.spec?.unschedulable === true || EXCLUDE_FROM_LB_LABEL in labels };
}

/** Nodes with a ready endpoint, per Service key (`namespace/name`). An unset `ready` counts as ready, as the API documents. */
export function readyEndpointNodes(slices: readonly V1EndpointSlice[]): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const slice of slices) {
    const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!service) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${service}`;
    const nodes = result.get(key) ?? new Set<string>();
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false || !endpoint.nodeName) continue;
      nodes.add(endpoint.nodeName);
    }
    result.set(key, nodes);
  }
  return result;
}

interface AnnouncedService {
  key: string;
  labels: Record<string, string>;
  ips: string[];
  pool: string;
  externalTrafficPolicy: 'Cluster' | 'Local';
  nodesWithReadyEndpoints: ReadonlySet<string>;
}

/**
 * The Services with addresses to announce: ours (loadBalancerClass), type
 * LoadBalancer, with ingress IPs. The pool is the controller's annotation, or
 * the pool whose ranges hold the first IP when the annotation is missing.
 */
export function announcedServices(snapshot: ClusterSnapshot, loadBalancerClass: string | undefined): AnnouncedService[] {
  const endpoints = readyEndpointNodes(snapshot.endpointSlices);
  const result: AnnouncedService[] = [];
  for (const service of snapshot.services) {
    if (service.spec?.type !== 'LoadBalancer' || (service.spec.loadBalancerClass ?? undefined) !== loadBalancerClass) continue;
    const ips = (service.status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip).filter((ip): ip is string => !!ip);
    if (ips.length === 0) continue;
    const key = `${service.metadata?.namespace ?? ''}/${service.metadata?.name ?? ''}`;
    const pool = service.metadata?.annotations?.[SERVICE_ANNOTATIONS.allocatedFromPool] ?? poolHolding(snapshot.pools, ips[0] as string);
    if (!pool) continue;
    result.push({
      key,
      labels: service.metadata?.labels ?? {},
      ips,
      pool,
      externalTrafficPolicy: service.spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
      nodesWithReadyEndpoints: endpoints.get(key) ?? new Set(),
    });
  }
  return result;
}

function poolHolding(pools: readonly IPAddressPool[], ip: string): string | undefined {
  const address = parseIP(ip);
  if (isParseError(address)) return undefined;
  for (const pool of pools) {
    for (const text of pool.spec.addresses) {
      const range = parseAddressRange(text);
      if (!isParseError(range) && rangeContains(range, address)) return pool.metadata?.name;
    }
  }
  return undefined;
}

const poolViews = (pools: readonly IPAddressPool[]) => pools.map((pool) => ({ name: pool.metadata?.name ?? '', labels: (pool.metadata?.labels ?? {}) as Record<string, string> }));

export function toL2State(snapshot: ClusterSnapshot, loadBalancerClass: string | undefined, interfacesOf: (node: string) => readonly string[] | undefined): ClusterL2State {
  const advertisements: L2AdvertisementSpecView[] = snapshot.l2Advertisements.map((advert) => {
    const { failover, ...spec } = advert.spec ?? {};
    const view = { name: advert.metadata?.name ?? '', ...spec } as L2AdvertisementSpecView;
    const takeover = takeoverTiming(failover);
    if (takeover) view.takeover = takeover;
    const failbackDelay = failover?.failbackDelay === undefined ? undefined : parseDuration(failover.failbackDelay);
    if (typeof failbackDelay === 'number' && failbackDelay > 0) view.failbackDelayMs = Math.round(failbackDelay * 1000);
    return view;
  });
  const services: L2ServiceView[] = announcedServices(snapshot, loadBalancerClass);
  const nodes: NodeView[] = snapshot.nodes.map((node) => {
    const name = node.metadata?.name ?? '';
    const interfaces = interfacesOf(name);
    return { name, labels: node.metadata?.labels ?? {}, ready: isNodeReady(node), cordoned: node.spec?.unschedulable === true, ...(interfaces ? { interfaces } : {}) };
  });
  return { advertisements, pools: poolViews(snapshot.pools), services, nodes };
}

/**
 * spec.failover's gratuitous announcements in the claim's units. A field that does not parse is
 * left out (the default applies; failbackDelay likewise): the API server's validation rejects
 * such objects already.
 */
function takeoverTiming(failover: L2Failover | undefined): Partial<TakeoverTiming> | undefined {
  if (!failover || (failover.gratuitousCount === undefined && failover.gratuitousInterval === undefined)) return undefined;
  const takeover: Partial<TakeoverTiming> = {};
  if (failover.gratuitousCount !== undefined) takeover.announceCount = failover.gratuitousCount;
  const seconds = failover.gratuitousInterval === undefined ? undefined : parseDuration(failover.gratuitousInterval);
  if (typeof seconds === 'number') takeover.announceIntervalMs = Math.round(seconds * 1000);
  return takeover;
}

/**
 * `inForce` holds the peers of the previous state: a peer whose edit is not usable
 * keeps that version (its session is not dropped for a typo) and its problem says
 * it is stale; a new peer that is not usable is left out.
 */
export function toBgpState(
  snapshot: ClusterSnapshot,
  loadBalancerClass: string | undefined,
  inForce: readonly BgpPeerView[] = [],
): { state: ClusterBgpState; problems: SnapshotProblem[] } {
  const problems: SnapshotProblem[] = [];
  const peers: BgpPeerView[] = [];
  for (const peer of snapshot.bgpPeers) {
    const found: SnapshotProblem[] = [];
    const view = peerView(peer, snapshot.secrets, snapshot.bfdProfiles, found);
    const previous = view ? undefined : inForce.find((p) => p.name === (peer.metadata?.name ?? ''));
    problems.push(...found.map((problem) => (previous ? { ...problem, stale: true } : problem)));
    const used = view ?? previous;
    if (used) peers.push(used);
  }
  const advertisements: BgpAdvertisementView[] = snapshot.bgpAdvertisements.map((advert) => ({ name: advert.metadata?.name ?? '', ...(advert.spec ?? {}) }) as BgpAdvertisementView);
  const communityAliases = new Map<string, string>();
  for (const community of snapshot.communities) for (const alias of community.spec.communities ?? []) communityAliases.set(alias.name, alias.value);
  const services: ServiceView[] = announcedServices(snapshot, loadBalancerClass);
  return { state: { peers, advertisements, pools: poolViews(snapshot.pools), services, communityAliases }, problems };
}

/**
 * The Secrets the BGPPeers of `namespace` name in spec.passwordSecret there, sorted: what the
 * speaker reads (by name) and what the operator grants it (resourceNames). A passwordSecret in
 * another namespace is never readable (its peer reports the Secret as not found).
 */
export function passwordSecretNames(peers: readonly BGPPeer[], namespace: string): string[] {
  const names = peers.flatMap((peer) => {
    const reference = peer.spec?.passwordSecret;
    const secretNamespace = reference?.namespace ?? peer.metadata?.namespace;
    return reference?.name && secretNamespace === namespace ? [reference.name] : [];
  });
  return [...new Set(names)].sort();
}

/** A BFDProfile with MetalLB's defaults (300 ms, 300 ms, × 3, minimum TTL 254). */
export function bfdProfileView(profile: BFDProfile): BfdProfileView {
  const spec = profile.spec ?? {};
  return {
    receiveIntervalMs: spec.receiveInterval ?? 300,
    transmitIntervalMs: spec.transmitInterval ?? 300,
    detectMultiplier: spec.detectMultiplier ?? 3,
    passive: spec.passiveMode ?? false,
    minimumTtl: spec.minimumTtl ?? 254,
    echoMode: spec.echoMode ?? false,
  };
}

function peerView(peer: BGPPeer, secrets: readonly V1Secret[], bfdProfiles: readonly BFDProfile[], problems: SnapshotProblem[]): BgpPeerView | undefined {
  const name = peer.metadata?.name ?? '';
  const object = `BGPPeer/${name}`;
  const spec = peer.spec;
  if (!spec.peerAddress) {
    problems.push({ object, path: 'spec.peerAddress', value: spec.interface, message: 'peering over an interface (unnumbered) is not supported yet: set peerAddress' });
    return undefined;
  }
  const seconds = (field: 'holdTime' | 'keepaliveTime' | 'connectTime'): number | undefined | null => {
    const text = spec[field];
    if (text === undefined) return undefined;
    const parsed = parseDuration(text);
    if (isParseError(parsed)) {
      problems.push({ object, path: `spec.${field}`, value: text, message: parsed.error });
      return null;
    }
    return parsed;
  };
  const holdTimeSec = seconds('holdTime');
  const keepaliveTimeSec = seconds('keepaliveTime');
  const connectTimeSec = seconds('connectTime');
  if (holdTimeSec === null || keepaliveTimeSec === null || connectTimeSec === null) return undefined;

  let password = spec.password;
  if (spec.passwordSecret?.name) {
    const secretNamespace = spec.passwordSecret.namespace ?? peer.metadata?.namespace;
    const secret = secrets.find((s) => s.metadata?.name === spec.passwordSecret?.name && s.metadata?.namespace === secretNamespace);
    const encoded = secret?.data?.password;
    if (encoded === undefined) {
      // Never connect without the password the user asked for.
      problems.push({ object, path: 'spec.passwordSecret', value: `${secretNamespace}/${spec.passwordSecret.name}`, message: 'Secret not found or has no "password" key' });
      return undefined;
    }
    password = Buffer.from(encoded, 'base64').toString('utf8');
  }

  const view: BgpPeerView = {
    name,
    createdAt: String(peer.metadata?.creationTimestamp ?? ''),
    myASN: spec.myASN,
    peerAddress: spec.peerAddress,
  };
  const optional: Partial<BgpPeerView> = {
    peerASN: spec.peerASN,
    dynamicASN: spec.dynamicASN,
    peerPort: spec.peerPort,
    sourceAddress: spec.sourceAddress,
    holdTimeSec,
    keepaliveTimeSec,
    connectTimeSec,
    ebgpMultiHop: spec.ebgpMultiHop,
    routerID: spec.routerID,
    password,
    nodeSelectors: spec.nodeSelectors as LabelSelector[] | undefined,
    enableGracefulRestart: spec.enableGracefulRestart,
    disableMP: spec.disableMP,
    passive: spec.passive,
    vrf: spec.vrf,
    bfdProfile: spec.bfdProfile,
  };
  const profile = spec.bfdProfile === undefined ? undefined : bfdProfiles.find((p) => p.metadata?.name === spec.bfdProfile);
  if (profile) optional.bfd = bfdProfileView(profile);
  for (const [field, value] of Object.entries(optional)) if (value !== undefined) (view as unknown as Record<string, unknown>)[field] = value;
  return view;
}

/**
 * What a node's speaker must announce over BGP: a pure function of cluster state
 * and the node itself. Every speaker computes its own share; nothing is asked of
 * another speaker. The I/O side (src/speaker/bgp/announcer.ts) applies the result.
 */
import { parseCommunity } from '../../api/community.ts';
import { FAMILY_BITS, formatIP, isParseError, parseIP } from '../../api/net.ts';
import { matchesAnySelector, type LabelSelector, type Labels } from '../../common/labels.ts';
import { advertisementSelectsPool, advertisementSelectsService, type AdvertisementSelection } from '../selection.ts';

/** RFC 8326 GRACEFUL_SHUTDOWN (65535:0): routers lower the route's preference before it goes. */
export const GRACEFUL_SHUTDOWN_COMMUNITY = 0xffff0000;

export interface BgpPeerView {
  name: string;
  /** RFC 3339; the older of two clashing peers keeps working. */
  createdAt: string;
  myASN: number;
  peerASN?: number;
  dynamicASN?: 'internal' | 'external';
  peerAddress: string;
  peerPort?: number;
  sourceAddress?: string;
  holdTimeSec?: number;
  keepaliveTimeSec?: number;
  connectTimeSec?: number;
  ebgpMultiHop?: boolean;
  routerID?: string;
  /** Already resolved from password or passwordSecret. */
  password?: string;
  nodeSelectors?: LabelSelector[];
  enableGracefulRestart?: boolean;
  disableMP?: boolean;
  passive?: boolean;
  vrf?: string;
  /** spec.bfdProfile: the name, kept when the profile does not exist (reported, BGP runs without BFD). */
  bfdProfile?: string;
  /** The BFDProfile it names, with MetalLB's defaults filled in; absent when there is none. */
  bfd?: BfdProfileView;
}

/** A BFDProfile's settings (MetalLB's fields and defaults), in milliseconds. */
export interface BfdProfileView {
  receiveIntervalMs: number;
  transmitIntervalMs: number;
  detectMultiplier: number;
  passive: boolean;
  /** Multihop only (ebgpMultiHop peers). */
  minimumTtl: number;
  /** Not supported: the speaker refuses it with a clear error instead of ignoring it. */
  echoMode: boolean;
}

export interface BgpAdvertisementView extends AdvertisementSelection {
  name: string;
  aggregationLength?: number;
  aggregationLengthV6?: number;
  localPref?: number;
  communities?: string[];
  nodeSelectors?: LabelSelector[];
  peers?: string[];
  /** Hold each announced IP on this interface (e.g. `lo`) while the node announces it. */
  bindToInterface?: string;
}

export interface PoolView {
  name: string;
  labels?: Labels;
}

export interface ServiceView {
  key: string;
  labels?: Labels;
  /** The Service's load-balancer IPs (status.loadBalancer.ingress). */
  ips: string[];
  /** The pool they came from (the ip-allocated-from-pool annotation). */
  pool: string;
  externalTrafficPolicy: 'Cluster' | 'Local';
  nodesWithReadyEndpoints: ReadonlySet<string>;
}

export interface LocalNodeView {
  name: string;
  labels?: Labels;
  /** Cordoned or labelled exclude-from-external-load-balancers: routes get GRACEFUL_SHUTDOWN, then go. */
  draining: boolean;
}

export interface ClusterBgpState {
  peers: BgpPeerView[];
  advertisements: BgpAdvertisementView[];
  pools: PoolView[];
  services: ServiceView[];
  /** Community alias name → literal value, from Community objects. */
  communityAliases: ReadonlyMap<string, string>;
}

export interface RouteAttributes {
  /** RFC 1997 values, sorted, without duplicates. */
  communities: number[];
  /** RFC 8092 [global, local1, local2], sorted. */
  largeCommunities: Array<[number, number, number]>;
  /** Only on iBGP sessions. */
  localPref?: number;
}

export interface DesiredSession {
  /** The peer object this session comes from. */
  peer: string;
  config: BgpPeerView;
  /** Prefix (e.g. 192.0.2.10/32) → attributes. */
  prefixes: Map<string, RouteAttributes>;
}

export interface RefusedPeer {
  peer: string;
  conflictsWith: string;
  message: string;
}

export interface AdvertisementProblem {
  advertisement: string;
  path: string;
  value: unknown;
  message: string;
}

export interface DesiredBgpState {
  sessions: DesiredSession[];
  /** IP → interfaces that must carry it while this node announces it (bindToInterface). */
  boundAddresses: Map<string, string[]>;
  refusedPeers: RefusedPeer[];
  problems: AdvertisementProblem[];
}

/** Peers this node opens, oldest first; a newer peer that would duplicate a session (same VRF, address, source) is refused. */
export function peersForNode(peers: readonly BgpPeerView[], node: { name: string; labels?: Labels }): { active: BgpPeerView[]; refused: RefusedPeer[] } {
  const selected = peers.filter((peer) => matchesAnySelector(peer.nodeSelectors, node.labels)).sort(olderFirst);
  const bySessionIdentity = new Map<string, BgpPeerView>();
  const active: BgpPeerView[] = [];
  const refused: RefusedPeer[] = [];
  for (const peer of selected) {
    const identity = `${peer.vrf ?? ''}|${peer.peerAddress}|${peer.sourceAddress ?? ''}`;
    const holder = bySessionIdentity.get(identity);
    if (holder) {
      const source = peer.sourceAddress ? `from ${peer.sourceAddress}` : 'from the node address';
      refused.push({
        peer: peer.name,
        conflictsWith: holder.name,
        message: `node ${node.name} would open two sessions to ${peer.peerAddress} ${source}: BGPPeer ${holder.name} already does; give the peers disjoint nodeSelectors or different sourceAddresses`,
      });
      continue;
    }
    bySessionIdentity.set(identity, peer);
    active.push(peer);
  }
  return { active, refused };
}

/** Every clash over the cluster, for the peers' conditions: each refused peer and the one it yields to. */
export function clusterPeerConflicts(peers: readonly BgpPeerView[], nodes: ReadonlyArray<{ name: string; labels?: Labels }>): RefusedPeer[] {
  const seen = new Set<string>();
  const conflicts: RefusedPeer[] = [];
  for (const node of nodes) {
    for (const refused of peersForNode(peers, node).refused) {
      const pair = `${refused.peer}|${refused.conflictsWith}`;
      if (seen.has(pair)) continue;
      seen.add(pair);
      conflicts.push(refused);
    }
  }
  return conflicts;
}

export function isInternalPeer(peer: BgpPeerView): boolean {
  return peer.dynamicASN === 'internal' || (peer.peerASN !== undefined && peer.peerASN === peer.myASN);
}

/** The sessions this node holds and the routes each carries. */
export function desiredBgpState(state: ClusterBgpState, node: LocalNodeView): DesiredBgpState {
  const { active, refused } = peersForNode(state.peers, node);
  const sessions = new Map(active.map((peer) => [peer.name, { peer: peer.name, config: peer, prefixes: new Map<string, RouteAttributes>() }]));
  const problems: AdvertisementProblem[] = [];
  const boundAddresses = new Map<string, string[]>();
  const poolLabels = new Map(state.pools.map((pool) => [pool.name, pool.labels]));

  for (const advert of state.advertisements) {
    if (!matchesAnySelector(advert.nodeSelectors, node.labels)) continue;
    const literal = resolveCommunities(advert, state.communityAliases, problems);
    if (node.draining) literal.communities.add(GRACEFUL_SHUTDOWN_COMMUNITY);
    const targets = [...sessions.values()].filter((session) => !advert.peers || advert.peers.length === 0 || advert.peers.includes(session.peer));
    for (const service of state.services) {
      if (!poolLabels.has(service.pool) || !advertisementSelectsPool(advert, service.pool, poolLabels.get(service.pool))) continue;
      if (!advertisementSelectsService(advert, service.labels)) continue;
      if (service.externalTrafficPolicy === 'Local' && !service.nodesWithReadyEndpoints.has(node.name)) continue;
      for (const ip of service.ips) {
        const prefix = aggregatePrefix(ip, advert);
        if (prefix === undefined) {
          problems.push({ advertisement: advert.name, path: 'spec.aggregationLength', value: ip, message: `Service ${service.key}: no valid prefix for "${ip}" with this aggregation length` });
          continue;
        }
        for (const session of targets) {
          const attributes = mergeAttributes(session.prefixes.get(prefix), literal, isInternalPeer(session.config) ? advert.localPref : undefined);
          session.prefixes.set(prefix, attributes);
        }
        if (advert.bindToInterface && targets.length > 0) {
          const interfaces = boundAddresses.get(ip) ?? [];
          if (!interfaces.includes(advert.bindToInterface)) boundAddresses.set(ip, [...interfaces, advert.bindToInterface].sort());
        }
      }
    }
  }
  return { sessions: [...sessions.values()], boundAddresses, refusedPeers: refused, problems };
}

function olderFirst(a: BgpPeerView, b: BgpPeerView): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The covering prefix of the advertisement's aggregation length (default: the host route). */
export function aggregatePrefix(ip: string, advert: Pick<BgpAdvertisementView, 'aggregationLength' | 'aggregationLengthV6'>): string | undefined {
  const parsed = parseIP(ip);
  if (isParseError(parsed)) return undefined;
  const bits = FAMILY_BITS[parsed.family];
  const length = (parsed.family === 4 ? advert.aggregationLength : advert.aggregationLengthV6) ?? bits;
  if (!Number.isInteger(length) || length < 0 || length > bits) return undefined;
  const hostBits = BigInt(bits - length);
  const network = (parsed.value >> hostBits) << hostBits;
  return `${formatIP(parsed.family, network)}/${length}`;
}

function resolveCommunities(advert: BgpAdvertisementView, aliases: ReadonlyMap<string, string>, problems: AdvertisementProblem[]): { communities: Set<number>; large: Map<string, [number, number, number]> } {
  const communities = new Set<number>();
  const large = new Map<string, [number, number, number]>();
  (advert.communities ?? []).forEach((text, index) => {
    const path = `spec.communities[${index}]`;
    let parsed = parseCommunity(text);
    if (!isParseError(parsed) && parsed.kind === 'alias') {
      const value = aliases.get(parsed.name);
      if (value === undefined) {
        problems.push({ advertisement: advert.name, path, value: text, message: `no Community defines the alias "${text}"` });
        return;
      }
      parsed = parseCommunity(value);
    }
    if (isParseError(parsed) || parsed.kind === 'alias') {
      problems.push({ advertisement: advert.name, path, value: text, message: isParseError(parsed) ? parsed.error : 'an alias may not name another alias' });
      return;
    }
    if (parsed.kind === 'large') large.set(`${parsed.globalAdministrator}:${parsed.localData1}:${parsed.localData2}`, [parsed.globalAdministrator, parsed.localData1, parsed.localData2]);
    else communities.add(parsed.value);
  });
  return { communities, large };
}

/** Several advertisements may select one prefix: their communities add up and the highest localPref wins. */
function mergeAttributes(existing: RouteAttributes | undefined, literal: { communities: Set<number>; large: Map<string, [number, number, number]> }, localPref: number | undefined): RouteAttributes {
  const communities = new Set([...(existing?.communities ?? []), ...literal.communities]);
  const large = new Map((existing?.largeCommunities ?? []).map((c) => [c.join(':'), c] as const));
  for (const [key, value] of literal.large) large.set(key, value);
  const prefs = [existing?.localPref, localPref].filter((p): p is number => p !== undefined && p > 0);
  const result: RouteAttributes = {
    communities: [...communities].sort((a, b) => a - b),
    largeCommunities: [...large.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]),
  };
  if (prefs.length > 0) result.localPref = Math.max(...prefs);
  return result;
}

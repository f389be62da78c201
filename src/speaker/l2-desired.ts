/**
 * Which Service IPs this node answers for on Layer 2, and on which interfaces:
 * a pure function of cluster state, the live speakers and the node. Every speaker
 * runs the same election per IP, so exactly one node answers for each.
 */
import { matchesAnySelector, type Labels } from '../common/labels.ts';
import { advertisementSelectsPool, advertisementSelectsService, type AdvertisementSelection } from './selection.ts';
import { electL2Owner, l2Eligibility, type L2AdvertisementView, type NodeView, type ServiceView as ElectionServiceView } from './election.ts';
import { DEFAULT_CLAIM_TIMING, type ClaimTiming } from './l2/claim.ts';

/** The gratuitous ARPs / unsolicited NAs a node sends when it takes an IP over (spec.failover). */
export type TakeoverTiming = Pick<ClaimTiming, 'announceCount' | 'announceIntervalMs'>;

export interface L2AdvertisementSpecView extends L2AdvertisementView, AdvertisementSelection {
  /** Put the IP on this interface (e.g. `lo`) while the node owns it. */
  bindToInterface?: string;
  /** spec.failover.gratuitousCount / gratuitousInterval, parsed; a missing field means the default (DEFAULT_CLAIM_TIMING). */
  takeover?: Partial<TakeoverTiming>;
  /** spec.failover.failbackDelay in ms: a restarted node leaves the IPs others hold alone this long. */
  failbackDelayMs?: number;
}

export interface L2ServiceView extends ElectionServiceView {
  labels?: Labels;
  ips: string[];
  pool: string;
}

export interface ClusterL2State {
  advertisements: L2AdvertisementSpecView[];
  pools: Array<{ name: string; labels?: Labels }>;
  services: L2ServiceView[];
  nodes: NodeView[];
}

export interface L2Announcement {
  ip: string;
  /** Services holding the IP (several when shared). */
  services: string[];
  /** Interfaces to answer on; empty = every interface the node announces from. */
  interfaces: string[];
  /** Interfaces that must carry the address while this node owns it. */
  bindToInterfaces: string[];
  /** Takeover announcements for this IP; absent when no advertisement sets spec.failover (the announcer's own timing applies). */
  takeover?: TakeoverTiming;
}

export interface L2Desired {
  /** The IPs this node answers for. */
  announcements: Map<string, L2Announcement>;
  /** Every IP with an L2 advertisement → its owner (undefined when no node may answer), as every speaker sees it. */
  owners: Map<string, string | undefined>;
  /** When a failbackDelay ends for a node it deferred: elect again then (the outcome may change). */
  reconsiderAt?: number;
  /**
   * IPs this node is selected for but cannot answer for because it has none of the interfaces
   * the selecting advertisements name → those names (sorted): to report, silently not announced otherwise.
   */
  noMatchingInterface: Map<string, string[]>;
}

/** For failbackDelay: the time now and when each live node (re)started (Membership.joinTimes), on this node's clock. */
export interface FailbackClock {
  now: number;
  joinedAt: ReadonlyMap<string, number>;
}

export function desiredL2State(state: ClusterL2State, self: string, live: ReadonlySet<string>, failback?: FailbackClock): L2Desired {
  const poolLabels = new Map(state.pools.map((pool) => [pool.name, pool.labels]));
  const byIp = new Map<string, L2ServiceView[]>();
  for (const service of state.services) {
    for (const ip of service.ips) {
      const holders = byIp.get(ip) ?? [];
      holders.push(service);
      byIp.set(ip, holders);
    }
  }

  const announcements = new Map<string, L2Announcement>();
  const owners = new Map<string, string | undefined>();
  const noMatchingInterface = new Map<string, string[]>();
  const selfNode = state.nodes.find((node) => node.name === self);
  let reconsiderAt: number | undefined;
  for (const [ip, services] of byIp) {
    const advertisements = state.advertisements.filter((advert) =>
      services.some((service) => poolLabels.has(service.pool) && advertisementSelectsPool(advert, service.pool, poolLabels.get(service.pool)) && advertisementSelectsService(advert, service.labels)),
    );
    if (advertisements.length === 0) continue;
    // The longest delay of the advertisements selecting the IP: the same on every node.
    const delayMs = Math.max(0, ...advertisements.map((advert) => advert.failbackDelayMs ?? 0));
    const failbackInput = failback && delayMs > 0 ? { ...failback, delayMs } : undefined;
    const owner = electL2Owner(state.nodes, live, { ip, advertisements, services, ...(failbackInput ? { failback: failbackInput } : {}) });
    if (failbackInput) {
      for (const joinedAt of failbackInput.joinedAt.values()) {
        const endsAt = joinedAt + delayMs;
        if (endsAt > failbackInput.now) reconsiderAt = Math.min(reconsiderAt ?? endsAt, endsAt);
      }
    }
    owners.set(ip, owner);
    if (selfNode && owner !== self && l2Eligibility(selfNode, live, { ip, advertisements, services }).reason === 'NoMatchingInterface') {
      const named = advertisements.filter((advert) => matchesAnySelector(advert.nodeSelectors, selfNode.labels)).flatMap((advert) => advert.interfaces ?? []);
      noMatchingInterface.set(ip, unique(named));
    }
    if (owner !== self) continue;
    const mine = advertisements.filter((advert) => matchesAnySelector(advert.nodeSelectors, selfNode?.labels));
    const everyInterface = mine.some((advert) => !advert.interfaces || advert.interfaces.length === 0);
    announcements.set(ip, {
      ip,
      services: services.map((service) => service.key).sort(),
      interfaces: everyInterface ? [] : unique(mine.flatMap((advert) => advert.interfaces ?? [])),
      bindToInterfaces: unique(mine.flatMap((advert) => (advert.bindToInterface ? [advert.bindToInterface] : []))),
      ...takeoverOf(mine),
    });
  }
  return { announcements, owners, noMatchingInterface, ...(reconsiderAt === undefined ? {} : { reconsiderAt }) };
}

/**
 * When several advertisements of this node select the IP and disagree, the most thorough
 * takeover wins: the largest count and the shortest interval (each field on its own; a field an
 * advertisement leaves out counts as the default). Order-independent, so the same on every node.
 */
function takeoverOf(advertisements: readonly L2AdvertisementSpecView[]): { takeover?: TakeoverTiming } {
  const configured = advertisements.filter((advert) => advert.takeover !== undefined);
  if (configured.length === 0) return {};
  const { announceCount, announceIntervalMs } = DEFAULT_CLAIM_TIMING;
  const resolved = configured.map((advert) => ({ announceCount, announceIntervalMs, ...advert.takeover }));
  return {
    takeover: {
      announceCount: Math.max(...resolved.map((timing) => timing.announceCount)),
      announceIntervalMs: Math.min(...resolved.map((timing) => timing.announceIntervalMs)),
    },
  };
}

function unique(values: string[]): string[] {
  return [...new Set(values)].sort();
}

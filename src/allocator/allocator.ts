/**
 * The IP allocation engine: pools in, Service requests in, assignments and
 * typed reasons out. Plain data only; the reconciler turns results into
 * Service status, annotations and Events. MetalLB's rules (sharing, dual-stack,
 * pool choice) with free space kept as interval sets.
 */
import { formatAddress, formatRange, IpInputError, parseAddress, type Address, type Family, type IpRange } from './ip.ts';
import { Pool, type PoolCounts, type PoolSpec } from './pool.ts';
import { normalizeRequest, type NormalizedRequest, type ServiceRequest } from './request.ts';

/** Why a Service got no address; each maps to one Event. */
export type FailureReason =
  | 'Exhausted'
  | 'NotInAnyPool'
  | 'SharingConflict'
  | 'FamilyUnavailable'
  | 'PoolNotFound'
  | 'PoolIneligible'
  | 'NoEligiblePool'
  | 'InvalidRequest';

/** Why a Service lost the addresses it held. */
export type ReleaseReason =
  | 'PoolDeleted'
  | 'PoolShrunk'
  | 'PoolChanged'
  | 'PoolIneligible'
  | 'RequestChanged'
  | 'SharingConflict'
  | 'ServiceDeleted'
  | 'NotLoadBalancer';

export interface Failure {
  reason: FailureReason;
  message: string;
  /** The Service holding the address, for SharingConflict. */
  conflictWith?: string;
}

export interface Release {
  service: string;
  ips: string[];
  pool: string;
  reason: ReleaseReason;
  message: string;
}

export type AssignResult =
  | {
      ok: true;
      /** Primary family first. */
      ips: string[];
      pool: string;
      /** False when the Service already held exactly these addresses. */
      changed: boolean;
      /** Set when addresses held before this call were given up first. */
      released?: Release;
      /** PreferDualStack got one family only: why not the other. */
      partial?: Failure;
    }
  | { ok: false; failure: Failure; released?: Release };

export type AdoptResult = { ok: true; ips: string[]; pool: string } | { ok: false; failure: Failure };

/** Why a pool's spec is not in force: addresses that do not parse, space another pool holds, or a name used twice. */
export type RefusalReason = 'InvalidSpec' | 'Overlap' | 'DuplicateName';

export interface PoolRefusal {
  pool: string;
  reason: RefusalReason;
  message: string;
  /** True when the pool goes on serving the spec it had before this (refused) edit. */
  stale: boolean;
}

export interface SetPoolsResult {
  refused: PoolRefusal[];
  released: Release[];
}

export interface Assignment {
  ips: string[];
  pool: string;
}

interface HeldAddress extends Address {
  text: string;
}

interface Holding {
  pool: string;
  /** Primary family first. */
  addresses: AddressUse[];
  request: NormalizedRequest;
}

/** One address in use and the Services on it (several only when they share). */
interface AddressUse extends HeldAddress {
  pool: string;
  /** All users carry the same sharing key (only a sole user may change it). */
  sharingKey: string;
  /** Usually one; a short array is cheaper than a Map per address. */
  users: Holding[];
}

interface Conflict {
  message: string;
  conflictWith: string;
}

interface Problem<Reason> {
  reason: Reason;
  message: string;
  conflictWith?: string;
}

interface RangeOwner extends IpRange {
  pool: Pool;
}

const ALL_FAMILIES = ['IPv4', 'IPv6'] as const;

/** What a pool offers for one family: an address, none of that family, or none free. */
type Pick = bigint | 'absent' | 'full';

function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameAddresses(a: readonly Address[], b: readonly Address[]): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => y.family === x.family && y.value === x.value));
}

export class Allocator {
  private pools = new Map<string, Pool>();
  /** Pools in the order auto-assignment tries them. */
  private poolOrder: Pool[] = [];
  private rangeIndex: Record<Family, RangeOwner[]> = { IPv4: [], IPv6: [] };
  private refusals: PoolRefusal[] = [];
  private readonly holdings = new Map<string, Holding>();
  private readonly uses = new Map<string, AddressUse>();
  /** sharing key -> addresses whose users carry it, to find an address to share. */
  private readonly sharedAddresses = new Map<string, Set<AddressUse>>();
  /** Addresses left by releases inside setPools, returned once the new pools are in place. */
  private readonly pendingFree: Address[] = [];

  /**
   * Replaces the pool set. `specs` come in the caller's precedence order
   * (creationTimestamp, then name). A pool in force keeps its place: an edit
   * that does not parse, or would overlap another pool in force, is refused
   * and the pool goes on serving the spec it had (stale, as MetalLB keeps a
   * stale configuration), so a typo never costs a Service its address. New
   * pools come after those in force; one overlapping an earlier is refused and
   * the earlier keeps working. Assignments that lost validity under the specs
   * in force are released and reported; assignments still valid are kept
   * (moved to another pool if their address now lies there).
   */
  setPools(specs: readonly PoolSpec[]): SetPoolsResult {
    const refused: PoolRefusal[] = [];
    const accepted = new Map<string, Pool>();
    const index: Record<Family, RangeOwner[]> = { IPv4: [], IPv6: [] };
    const present = new Set(specs.map((spec) => spec.name));
    // Space held by pools in force (and still present) until each is placed again.
    const reserved: Record<Family, RangeOwner[]> = { IPv4: [], IPv6: [] };
    for (const pool of this.pools.values()) {
      if (!present.has(pool.name)) continue;
      for (const family of ALL_FAMILIES) for (const range of pool.ranges[family]) reserved[family].push({ ...range, pool });
    }
    const handled = new Set<PoolSpec>();
    const place = (pool: Pool): void => {
      accepted.set(pool.name, pool);
      for (const family of ALL_FAMILIES) for (const range of pool.ranges[family]) index[family].push({ ...range, pool });
    };
    const parse = (spec: PoolSpec): Pool | PoolRefusal => {
      try {
        return new Pool(spec);
      } catch (error) {
        if (!(error instanceof IpInputError)) throw error;
        return { pool: spec.name, reason: 'InvalidSpec', message: error.message, stale: false };
      }
    };
    // Pools in force first, in precedence order: the edit, or else the spec in force.
    for (const spec of specs) {
      const inForce = this.pools.get(spec.name);
      if (inForce === undefined || accepted.has(spec.name)) continue;
      handled.add(spec);
      const edited = parse(spec);
      let refusal = edited instanceof Pool ? undefined : edited;
      if (edited instanceof Pool) {
        const notYetPlaced = (owner: RangeOwner): boolean => owner.pool.name !== spec.name && !accepted.has(owner.pool.name);
        const overlap = this.findOverlap(index, edited) ?? this.findOverlap(reserved, edited, notYetPlaced, 'which is in force');
        if (overlap !== undefined) refusal = { pool: spec.name, reason: 'Overlap', message: overlap, stale: false };
      }
      if (refusal === undefined) {
        place(edited as Pool);
        continue;
      }
      refused.push({ ...refusal, stale: true });
      place(new Pool(inForce.spec));
    }
    // Then the others, in precedence order.
    for (const spec of specs) {
      if (handled.has(spec)) continue;
      const pool = parse(spec);
      if (!(pool instanceof Pool)) {
        refused.push(pool);
        continue;
      }
      if (accepted.has(pool.name)) {
        refused.push({ pool: pool.name, reason: 'DuplicateName', message: `pool ${pool.name}: the name is used by an earlier pool`, stale: false });
        continue;
      }
      const overlap = this.findOverlap(index, pool);
      if (overlap !== undefined) {
        refused.push({ pool: pool.name, reason: 'Overlap', message: overlap, stale: false });
        continue;
      }
      place(pool);
    }
    const order = new Map<string, number>();
    specs.forEach((spec, i) => order.set(spec.name, order.get(spec.name) ?? i));
    refused.sort((x, y) => (order.get(x.pool) as number) - (order.get(y.pool) as number));
    for (const family of ALL_FAMILIES) index[family].sort((a, b) => compareBigint(a.first, b.first));

    const released: Release[] = [];
    for (const [service, holding] of this.holdings) {
      const problem = this.problemUnderPools(holding, accepted, index, refused);
      if (problem !== undefined) released.push(this.unhold(service, holding, problem, false));
    }

    const carried = new Set<Pool>();
    for (const pool of accepted.values()) {
      const previous = this.pools.get(pool.name);
      if (previous !== undefined && pool.sameSpaceAs(previous)) {
        pool.adoptSpaceOf(previous);
        carried.add(pool);
      }
    }
    // Every address still in use lies in an accepted pool, or its holdings were released above.
    for (const holding of this.holdings.values()) {
      holding.pool = (this.ownerIn(index, holding.addresses[0] as Address) as Pool).name;
    }
    const usedByPool = new Map<Pool, Record<Family, bigint[]>>();
    for (const use of this.uses.values()) {
      const pool = this.ownerIn(index, use) as Pool;
      use.pool = pool.name;
      if (carried.has(pool)) continue;
      let used = usedByPool.get(pool);
      if (used === undefined) usedByPool.set(pool, (used = { IPv4: [], IPv6: [] }));
      used[use.family].push(use.value);
    }
    for (const pool of accepted.values()) {
      if (carried.has(pool)) continue;
      const used = usedByPool.get(pool) ?? { IPv4: [], IPv6: [] };
      for (const family of ALL_FAMILIES) used[family].sort(compareBigint);
      pool.buildFreeSpace(used);
    }
    // Addresses released above go back only into carried pools; rebuilt ones never counted them.
    for (const address of this.pendingFree.splice(0)) {
      const owner = this.ownerIn(index, address);
      if (owner !== undefined && carried.has(owner) && owner.allows(address.family, address.value)) {
        owner.giveBack(address.family, address.value);
      }
    }

    this.pools = accepted;
    this.rangeIndex = index;
    this.refusals = refused;
    const rank = (pool: Pool): number => (pool.priority > 0 ? pool.priority : Number.POSITIVE_INFINITY);
    this.poolOrder = [...accepted.values()].sort(
      (a, b) =>
        Number(b.restricted) - Number(a.restricted) ||
        rank(a) - rank(b) ||
        (order.get(a.name) as number) - (order.get(b.name) as number),
    );
    return { refused, released };
  }

  /** The specs in force, in the order of the last setPools (a stale pool's is the one it kept). */
  poolsInForce(): PoolSpec[] {
    return [...this.pools.values()].map((pool) => pool.spec);
  }

  /** Pools refused by the last setPools, with the reason (for a condition on each). */
  refusedPools(): PoolRefusal[] {
    return [...this.refusals];
  }

  /** Counts per accepted pool and family: total, in use (shared addresses once), available. */
  poolStats(): Map<string, PoolCounts> {
    return new Map([...this.pools.values()].map((pool) => [pool.name, pool.counts()]));
  }

  /**
   * Restart: records addresses a Service already holds (read from its status)
   * before anything new is handed out. Refused when the addresses are outside
   * every pool, the pool does not admit the Service, or another Service holds
   * them without compatible sharing; the reconciler then calls assign, which
   * hands out new ones. Request changes (pinned IP or pool) are left to assign.
   */
  adopt(request: ServiceRequest, ips: readonly string[]): AdoptResult {
    let normalized: NormalizedRequest;
    let addresses: HeldAddress[];
    try {
      normalized = normalizeRequest(request);
      addresses = ips.map((text, i) => {
        const address = parseAddress(text, `status.loadBalancer.ingress[${i}].ip`);
        return { ...address, text: formatAddress(address.family, address.value) };
      });
    } catch (error) {
      return { ok: false, failure: invalid(error) };
    }
    const current = this.holdings.get(normalized.key);
    if (current !== undefined && sameAddresses(current.addresses, addresses)) {
      // Already recorded; request changes are assign's to judge.
      return { ok: true, ips: current.addresses.map((a) => a.text), pool: current.pool };
    }
    if (
      addresses.length === 0 ||
      addresses.length > 2 ||
      (addresses.length === 2 && addresses[0]?.family === addresses[1]?.family)
    ) {
      return {
        ok: false,
        failure: { reason: 'InvalidRequest', message: `status holds ${JSON.stringify(ips)}: expected one address per family` },
      };
    }
    if (current !== undefined)
      this.unhold(normalized.key, current, { reason: 'RequestChanged', message: 'status changed' }, true);
    const placed = this.placeRequested(normalized, addresses);
    if (!placed.ok) return placed;
    if (addresses.length === 2 && addresses[0]?.family !== normalized.families[0]) addresses.reverse();
    this.hold(normalized, placed.pool, addresses);
    return { ok: true, ips: addresses.map((a) => a.text), pool: placed.pool.name };
  }

  /**
   * Level-triggered: returns what the Service should hold now. Keeps a valid
   * assignment unchanged; otherwise releases it (saying why) and allocates again.
   */
  assign(request: ServiceRequest): AssignResult {
    let normalized: NormalizedRequest;
    try {
      normalized = normalizeRequest(request);
    } catch (error) {
      // MetalLB keeps what the Service holds while its request is unreadable.
      return { ok: false, failure: invalid(error) };
    }
    const current = this.holdings.get(normalized.key);
    let released: Release | undefined;
    if (current !== undefined) {
      const problem = this.problemWithRequest(current, normalized);
      if (problem === undefined) return this.keep(current, normalized);
      released = this.unhold(normalized.key, current, problem, true);
    }
    const result = this.allocate(normalized);
    if (released !== undefined) result.released = released;
    return result;
  }

  /** The Service is gone or no longer a LoadBalancer: frees its addresses. */
  release(key: string, reason: 'ServiceDeleted' | 'NotLoadBalancer'): Release | undefined {
    const holding = this.holdings.get(key);
    if (holding === undefined) return undefined;
    const message = reason === 'ServiceDeleted' ? 'the Service was deleted' : 'the Service is no longer of type LoadBalancer';
    return this.unhold(key, holding, { reason, message }, true);
  }

  assignmentOf(key: string): Assignment | undefined {
    const holding = this.holdings.get(key);
    return holding === undefined ? undefined : { ips: holding.addresses.map((a) => a.text), pool: holding.pool };
  }

  /** The Services on one address (announced together). */
  servicesOn(ip: string): string[] {
    return (this.uses.get(ip)?.users ?? []).map((holding) => holding.request.key).sort();
  }

  /** Every assignment, for status writers and tests. */
  assignments(): Map<string, Assignment> {
    return new Map([...this.holdings.keys()].map((key) => [key, this.assignmentOf(key) as Assignment]));
  }

  // ---- keeping what is held

  private keep(holding: Holding, request: NormalizedRequest): AssignResult {
    this.updateSharing(holding, request);
    holding.request = request;
    const pool = this.pools.get(holding.pool) as Pool;
    // The primary family leads; a reordered ipFamilies reorders (changes) the status.
    const reordered = holding.addresses.length === 2 && holding.addresses[0]?.family !== request.families[0];
    if (reordered) holding.addresses.reverse();
    const result: AssignResult = { ok: true, ips: holding.addresses.map((a) => a.text), pool: pool.name, changed: reordered };
    const missing = request.families.find((family) => !holding.addresses.some((a) => a.family === family));
    if (missing === undefined || request.requested.length > 0) return result;
    // PreferDualStack holding one family: try the other from the same pool, as MetalLB does.
    const picked = this.pickInPool(pool, missing, request);
    if (typeof picked !== 'bigint') {
      result.partial = familyFailure(picked, missing, [pool]);
      return result;
    }
    const added = this.useAddress(pool, { family: missing, value: picked, text: formatAddress(missing, picked) }, holding);
    if (missing === request.families[0]) holding.addresses.unshift(added);
    else holding.addresses.push(added);
    return { ok: true, ips: holding.addresses.map((a) => a.text), pool: pool.name, changed: true };
  }

  /** Re-keys the addresses of a sole user whose sharing key changed. */
  private updateSharing(holding: Holding, request: NormalizedRequest): void {
    for (const use of holding.addresses) {
      if (use.sharingKey === request.sharingKey) continue;
      this.unindexShared(use);
      use.sharingKey = request.sharingKey;
      this.indexShared(use);
    }
  }

  private problemWithRequest(holding: Holding, request: NormalizedRequest): Problem<ReleaseReason> | undefined {
    const heldFamilies = holding.addresses.map((a) => a.family);
    const familiesFit =
      heldFamilies.every((family) => request.families.includes(family)) &&
      (request.policy === 'PreferDualStack' || heldFamilies.length === request.families.length);
    const held = holding.addresses.map((a) => a.text).join(', ');
    if (!familiesFit) {
      return { reason: 'RequestChanged', message: `holds ${held} but the Service asks for ${request.families.join(' and ')}` };
    }
    if (request.requestedPool !== undefined && request.requestedPool !== holding.pool) {
      return {
        reason: 'RequestChanged',
        message: `holds ${held} from pool ${holding.pool} but the Service asks for pool ${request.requestedPool}`,
      };
    }
    if (request.requested.length > 0 && !sameAddresses(request.requested, holding.addresses)) {
      const asked = request.requested.map((a) => formatAddress(a.family, a.value)).join(', ');
      return { reason: 'RequestChanged', message: `holds ${held} but the Service asks for ${asked}` };
    }
    const pool = this.pools.get(holding.pool) as Pool;
    if (!pool.admits(request)) {
      return { reason: 'PoolIneligible', message: `pool ${pool.name} no longer admits this Service (namespace or labels)` };
    }
    for (const use of holding.addresses) {
      const conflict = this.sharingConflict(use, request);
      if (conflict !== undefined) return { reason: 'SharingConflict', ...conflict };
    }
    return undefined;
  }

  private problemUnderPools(
    holding: Holding,
    pools: Map<string, Pool>,
    index: Record<Family, RangeOwner[]>,
    refused: readonly PoolRefusal[],
  ): Problem<ReleaseReason> | undefined {
    const owners = holding.addresses.map((address) => this.ownerIn(index, address));
    const outside = holding.addresses.find((_, i) => owners[i] === undefined);
    if (outside !== undefined) {
      if (pools.has(holding.pool)) {
        return { reason: 'PoolShrunk', message: `${outside.text} is no longer in pool ${holding.pool} nor any other pool` };
      }
      const refusal = refused.find((r) => r.pool === holding.pool);
      const why = refusal === undefined ? 'was deleted' : `is refused (${refusal.message})`;
      return { reason: 'PoolDeleted', message: `pool ${holding.pool} ${why}; ${outside.text} is in no other pool` };
    }
    const pool = owners[0] as Pool;
    if (owners.some((owner) => owner !== pool)) {
      return {
        reason: 'PoolChanged',
        message: `${holding.addresses.map((a) => a.text).join(' and ')} now lie in different pools`,
      };
    }
    const excluded = holding.addresses.find((address) => !pool.allows(address.family, address.value));
    if (excluded !== undefined) {
      return { reason: 'PoolChanged', message: `${excluded.text} is now excluded by pool ${pool.name} (avoidBuggyIPs)` };
    }
    if (!pool.admits(holding.request)) {
      return { reason: 'PoolIneligible', message: `pool ${pool.name} no longer admits this Service (namespace or labels)` };
    }
    const pinned = holding.request.requestedPool;
    if (pinned !== undefined && pinned !== pool.name) {
      return {
        reason: 'PoolChanged',
        message: `${holding.addresses[0]?.text} now lies in pool ${pool.name}, not the requested ${pinned}`,
      };
    }
    return undefined;
  }

  // ---- allocating

  private allocate(request: NormalizedRequest): AssignResult {
    if (request.requested.length > 0) {
      const addresses = request.requested.map((a) => ({ ...a, text: formatAddress(a.family, a.value) }));
      const placed = this.placeRequested(request, addresses);
      if (!placed.ok) return placed;
      if (request.requestedPool !== undefined && request.requestedPool !== placed.pool.name) {
        const asked = addresses.map((a) => a.text).join(', ');
        return {
          ok: false,
          failure: {
            reason: 'InvalidRequest',
            message: `requested ${asked} lies in pool ${placed.pool.name}, not in the requested pool ${request.requestedPool}`,
          },
        };
      }
      return this.commit(request, placed.pool, addresses);
    }
    if (request.requestedPool !== undefined) {
      const pool = this.pools.get(request.requestedPool);
      if (pool === undefined) {
        const refusal = this.refusals.find((r) => r.pool === request.requestedPool);
        const why = refusal === undefined ? 'does not exist' : `is refused (${refusal.message})`;
        return { ok: false, failure: { reason: 'PoolNotFound', message: `pool ${request.requestedPool} ${why}` } };
      }
      if (!pool.admits(request)) {
        return {
          ok: false,
          failure: { reason: 'PoolIneligible', message: `pool ${pool.name} does not admit this Service (namespace or labels)` },
        };
      }
      return this.allocateFrom([pool], request);
    }
    const candidates = this.poolOrder.filter((pool) => pool.autoAssign && pool.admits(request));
    if (candidates.length === 0) {
      return {
        ok: false,
        failure: {
          reason: 'NoEligiblePool',
          message: `no pool with autoAssign admits namespace ${request.namespace} and this Service's labels`,
        },
      };
    }
    return this.allocateFrom(candidates, request);
  }

  /**
   * MetalLB's pool choice: the first pool (in order) offering every wanted
   * family wins; for PreferDualStack, failing that, the first pool offering the
   * primary family, then the first offering the secondary.
   */
  private allocateFrom(pools: readonly Pool[], request: NormalizedRequest): AssignResult {
    const families = request.families;
    // picks[p][f]: what pool p offers for families[f]
    const picks: Pick[][] = [];
    let primaryOnly = -1;
    let secondaryOnly = -1;
    for (let p = 0; p < pools.length; p++) {
      const pool = pools[p] as Pool;
      const offered = families.map((family) => this.pickInPool(pool, family, request));
      picks.push(offered);
      if (offered.every((pick) => typeof pick === 'bigint')) return this.commitPicks(request, pool, offered);
      if (request.policy !== 'PreferDualStack' || families.length < 2) continue;
      if (primaryOnly < 0 && typeof offered[0] === 'bigint') primaryOnly = p;
      if (secondaryOnly < 0 && typeof offered[1] === 'bigint') secondaryOnly = p;
    }
    const fallback = primaryOnly >= 0 ? primaryOnly : secondaryOnly;
    if (fallback >= 0) {
      const offered = picks[fallback] as Pick[];
      const pool = pools[fallback] as Pool;
      const result = this.commitPicks(request, pool, offered);
      const missing = offered.findIndex((pick) => typeof pick !== 'bigint');
      if (result.ok) result.partial = familyFailure(offered[missing] as 'absent' | 'full', families[missing] as Family, [pool]);
      return result;
    }
    // Report the family that blocked: unavailable everywhere beats full somewhere.
    const absent = families.findIndex((_, f) => picks.every((offered) => offered[f] === 'absent'));
    if (absent >= 0) return { ok: false, failure: familyFailure('absent', families[absent] as Family, pools) };
    const blocked = families.findIndex((_, f) => picks.every((offered) => typeof offered[f] !== 'bigint'));
    if (blocked >= 0) return { ok: false, failure: familyFailure('full', families[blocked] as Family, pools) };
    const names = pools.map((pool) => pool.name).join(', ');
    return {
      ok: false,
      failure: {
        reason: 'FamilyUnavailable',
        message: `no eligible pool (${names}) has free ${families.join(' and ')} addresses together`,
      },
    };
  }

  /** `offered` is aligned with request.families; families without a bigint are left out. */
  private commitPicks(request: NormalizedRequest, pool: Pool, offered: readonly Pick[]): AssignResult {
    const addresses: HeldAddress[] = [];
    offered.forEach((value, f) => {
      const family = request.families[f] as Family;
      if (typeof value === 'bigint') addresses.push({ family, value, text: formatAddress(family, value) });
    });
    return this.commit(request, pool, addresses);
  }

  /**
   * The lowest address of one family in the pool this Service may take: a free
   * one, or one already used by Services it can share with (MetalLB scans from
   * the pool's start and takes the first that fits; the lower of the two is
   * that same answer).
   */
  private pickInPool(pool: Pool, family: Family, request: NormalizedRequest): Pick {
    if (!pool.hasFamily(family)) return 'absent';
    let best = pool.lowestFree(family);
    if (request.sharingKey !== '') {
      for (const use of this.sharedAddresses.get(request.sharingKey) ?? []) {
        if (use.pool !== pool.name || use.family !== family || (best !== undefined && use.value >= best)) continue;
        if (this.sharingConflict(use, request) === undefined) best = use.value;
      }
    }
    return best ?? 'full';
  }

  /** Where requested (or adopted) addresses may be held: one pool, allowed, admitting, shareable. */
  private placeRequested(
    request: NormalizedRequest,
    addresses: readonly HeldAddress[],
  ): { ok: true; pool: Pool } | { ok: false; failure: Failure } {
    let pool: Pool | undefined;
    for (const address of addresses) {
      const owner = this.ownerIn(this.rangeIndex, address);
      if (owner === undefined) {
        return { ok: false, failure: { reason: 'NotInAnyPool', message: `${address.text} is not in any pool` } };
      }
      if (!owner.allows(address.family, address.value)) {
        return {
          ok: false,
          failure: { reason: 'NotInAnyPool', message: `${address.text} is excluded by pool ${owner.name} (avoidBuggyIPs)` },
        };
      }
      if (pool !== undefined && pool !== owner) {
        return {
          ok: false,
          failure: {
            reason: 'InvalidRequest',
            message: `${addresses.map((a) => a.text).join(' and ')} lie in different pools (${pool.name}, ${owner.name})`,
          },
        };
      }
      pool = owner;
    }
    const chosen = pool as Pool;
    if (!chosen.admits(request)) {
      return {
        ok: false,
        failure: { reason: 'PoolIneligible', message: `pool ${chosen.name} does not admit this Service (namespace or labels)` },
      };
    }
    for (const address of addresses) {
      const use = this.uses.get(address.text);
      const conflict = use === undefined ? undefined : this.sharingConflict(use, request);
      if (conflict !== undefined) return { ok: false, failure: { reason: 'SharingConflict', ...conflict } };
    }
    return { ok: true, pool: chosen };
  }

  private commit(request: NormalizedRequest, pool: Pool, addresses: HeldAddress[]): AssignResult {
    this.hold(request, pool, addresses);
    return { ok: true, ips: addresses.map((a) => a.text), pool: pool.name, changed: true };
  }

  // ---- sharing

  /** MetalLB's rules: same non-empty key, same backend key, no port used twice. */
  private sharingConflict(use: AddressUse, request: NormalizedRequest): Conflict | undefined {
    for (const holding of use.users) {
      const other = holding.request.key;
      if (other === request.key) continue;
      const at = `${use.text} is held by ${other}`;
      if (use.sharingKey === '') return { message: `${at}, which does not allow sharing`, conflictWith: other };
      if (request.sharingKey === '') return { message: `${at} and this Service does not allow sharing`, conflictWith: other };
      if (use.sharingKey !== request.sharingKey) {
        return {
          message: `${at} with sharing key ${JSON.stringify(use.sharingKey)}, not ${JSON.stringify(request.sharingKey)}`,
          conflictWith: other,
        };
      }
      if (holding.request.backendKey !== request.backendKey) {
        return {
          message: `${at}, whose externalTrafficPolicy or pod selector differs (Local Services sharing an address must select the same pods)`,
          conflictWith: other,
        };
      }
      for (const port of request.ports) {
        if (holding.request.ports.includes(port))
          return { message: `${at}, which already uses port ${port}`, conflictWith: other };
      }
    }
    return undefined;
  }

  private indexShared(use: AddressUse): void {
    if (use.sharingKey === '') return;
    let set = this.sharedAddresses.get(use.sharingKey);
    if (set === undefined) this.sharedAddresses.set(use.sharingKey, (set = new Set()));
    set.add(use);
  }

  private unindexShared(use: AddressUse): void {
    const set = this.sharedAddresses.get(use.sharingKey);
    if (set === undefined) return;
    set.delete(use);
    if (set.size === 0) this.sharedAddresses.delete(use.sharingKey);
  }

  // ---- bookkeeping

  private hold(request: NormalizedRequest, pool: Pool, addresses: HeldAddress[]): void {
    const holding: Holding = { pool: pool.name, addresses: [], request };
    for (const address of addresses) holding.addresses.push(this.useAddress(pool, address, holding));
    this.holdings.set(request.key, holding);
  }

  private useAddress(pool: Pool, address: HeldAddress, holding: Holding): AddressUse {
    let use = this.uses.get(address.text);
    if (use === undefined) {
      pool.take(address.family, address.value);
      const { family, value, text } = address;
      use = { family, value, text, pool: pool.name, sharingKey: holding.request.sharingKey, users: [] };
      this.uses.set(text, use);
      this.indexShared(use);
    }
    use.users.push(holding);
    return use;
  }

  /**
   * Drops a holding; an address returns to its pool's free space when its last
   * user leaves (`giveBack` false while setPools swaps the pools underneath).
   */
  private unhold(key: string, holding: Holding, problem: Problem<ReleaseReason>, giveBack: boolean): Release {
    this.holdings.delete(key);
    for (const use of holding.addresses) {
      use.users.splice(use.users.indexOf(holding), 1);
      if (use.users.length > 0) continue;
      this.uses.delete(use.text);
      this.unindexShared(use);
      if (giveBack) this.pools.get(use.pool)?.giveBack(use.family, use.value);
      else this.pendingFree.push(use);
    }
    return {
      service: key,
      ips: holding.addresses.map((a) => a.text),
      pool: holding.pool,
      reason: problem.reason,
      message: problem.message,
    };
  }

  /** The first range of `pool` overlapping one in `index` (those `consider` keeps), said as a refusal. */
  private findOverlap(
    index: Record<Family, RangeOwner[]>,
    pool: Pool,
    consider: (owner: RangeOwner) => boolean = () => true,
    because = 'which came first',
  ): string | undefined {
    for (const family of ALL_FAMILIES) {
      for (const range of pool.ranges[family]) {
        const other = index[family].find((o) => o.first <= range.last && range.first <= o.last && consider(o));
        if (other !== undefined) {
          return `pool ${pool.name}: ${formatRange(range)} overlaps ${formatRange(other)} of pool ${other.pool.name}, ${because}`;
        }
      }
    }
    return undefined;
  }

  private ownerIn(index: Record<Family, RangeOwner[]>, address: Address): Pool | undefined {
    const ranges = index[address.family];
    let low = 0;
    let high = ranges.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const range = ranges[middle] as RangeOwner;
      if (address.value < range.first) high = middle - 1;
      else if (address.value > range.last) low = middle + 1;
      else return range.pool;
    }
    return undefined;
  }
}

function invalid(error: unknown): Failure {
  if (error instanceof IpInputError) return { reason: 'InvalidRequest', message: error.message };
  throw error;
}

function familyFailure(state: 'absent' | 'full', family: Family, pools: readonly Pool[]): Failure {
  const names = pools.map((pool) => pool.name).join(', ');
  return state === 'absent'
    ? { reason: 'FamilyUnavailable', message: `no eligible pool (${names}) has ${family} addresses` }
    : { reason: 'Exhausted', message: `no available ${family} address in pool${pools.length > 1 ? 's' : ''} ${names}` };
}

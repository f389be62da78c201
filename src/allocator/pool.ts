/**
 * One address pool as the allocator sees it: its ranges per family, the free
 * space per family as interval sets, and who may use it.
 */
import { IntervalSet } from './interval-set.ts';
import {
  countBuggyIPv4,
  formatRange,
  IpInputError,
  isBuggyIPv4,
  nextNonBuggyIPv4,
  parseRange,
  type Family,
  type IpRange,
} from './ip.ts';

export type Labels = Readonly<Record<string, string>>;
/** A label selector already turned into a test (the reconciler builds these). */
export type LabelPredicate = (labels: Labels) => boolean;

/** An IPAddressPool as plain data, MetalLB's fields and defaults. */
export interface PoolSpec {
  name: string;
  /** CIDRs or `a-b` ranges, both families allowed. */
  addresses: readonly string[];
  /** Default true. */
  autoAssign?: boolean;
  /** Default false: skip IPv4 .0 and .255. */
  avoidBuggyIPs?: boolean;
  /** serviceAllocation.priority: lower is preferred, 0 or unset ranks last. */
  priority?: number;
  /** serviceAllocation.namespaces */
  namespaces?: readonly string[];
  /** serviceAllocation.namespaceSelectors, evaluated on the namespace's labels. */
  namespaceSelectors?: readonly LabelPredicate[];
  /** serviceAllocation.serviceSelectors, evaluated on the Service's labels. */
  serviceSelectors?: readonly LabelPredicate[];
  /** Set when the API's own rules refuse the object (src/api/semantic.ts): the pool is refused with this message. */
  invalid?: string;
}

export interface FamilyCounts {
  total: bigint;
  inUse: bigint;
  available: bigint;
}

export type PoolCounts = Record<Family, FamilyCounts>;

/** Who asks: the parts of a Service that pool eligibility depends on. */
export interface Requester {
  namespace: string;
  labels?: Labels;
  namespaceLabels?: Labels;
}

export class Pool {
  readonly name: string;
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  readonly priority: number;
  /** Pools limited to some namespaces or Services are tried before open ones, as in MetalLB. */
  readonly restricted: boolean;
  readonly ranges: Readonly<Record<Family, readonly IpRange[]>>;
  /** The spec this pool was built from (kept in force when an edit is refused). */
  readonly spec: PoolSpec;
  private readonly free: Record<Family, IntervalSet> = { IPv4: new IntervalSet(), IPv6: new IntervalSet() };
  private readonly inUse: Record<Family, bigint> = { IPv4: 0n, IPv6: 0n };
  private readonly totals: Record<Family, bigint>;

  /** Parses and checks the spec; throws IpInputError naming the field and value. */
  constructor(spec: PoolSpec) {
    if (!spec.name) throw new IpInputError('pool name: must not be empty');
    if (spec.invalid !== undefined) throw new IpInputError(spec.invalid);
    const field = `pool ${spec.name}: spec.addresses`;
    if (spec.addresses.length === 0) throw new IpInputError(`${field}: must list at least one range`);
    const ranges: Record<Family, IpRange[]> = { IPv4: [], IPv6: [] };
    spec.addresses.forEach((text, index) => {
      const range = parseRange(text, `${field}[${index}]`);
      ranges[range.family].push(range);
    });
    for (const family of ['IPv4', 'IPv6'] as const) {
      ranges[family].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
      for (let i = 1; i < ranges[family].length; i++) {
        const previous = ranges[family][i - 1] as IpRange;
        const current = ranges[family][i] as IpRange;
        if (current.first <= previous.last) {
          throw new IpInputError(`${field}: ${formatRange(current)} overlaps ${formatRange(previous)} in the same pool`);
        }
      }
    }
    const priority = spec.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0) {
      throw new IpInputError(`pool ${spec.name}: spec.serviceAllocation.priority: ${priority} must be a non-negative integer`);
    }
    const namespaces = spec.namespaces ?? [];
    const duplicate = namespaces.find((namespace, index) => namespaces.indexOf(namespace) !== index);
    if (duplicate !== undefined) {
      throw new IpInputError(
        `pool ${spec.name}: spec.serviceAllocation.namespaces: ${JSON.stringify(duplicate)} is listed twice`,
      );
    }
    this.spec = spec;
    this.name = spec.name;
    this.autoAssign = spec.autoAssign ?? true;
    this.avoidBuggyIPs = spec.avoidBuggyIPs ?? false;
    this.priority = priority;
    this.restricted =
      namespaces.length > 0 || (spec.namespaceSelectors?.length ?? 0) > 0 || (spec.serviceSelectors?.length ?? 0) > 0;
    this.ranges = ranges;
    this.totals = { IPv4: 0n, IPv6: 0n };
    for (const family of ['IPv4', 'IPv6'] as const) {
      for (const range of ranges[family]) {
        this.totals[family] += range.last - range.first + 1n;
        if (family === 'IPv4' && this.avoidBuggyIPs) this.totals[family] -= countBuggyIPv4(range.first, range.last);
      }
    }
  }

  /** Same ranges and same buggy-IP rule: the free space can be carried over unchanged. */
  sameSpaceAs(other: Pool): boolean {
    if (this.avoidBuggyIPs !== other.avoidBuggyIPs) return false;
    return (['IPv4', 'IPv6'] as const).every((family) => {
      const mine = this.ranges[family];
      const theirs = other.ranges[family];
      return mine.length === theirs.length && mine.every((r, i) => r.first === theirs[i]?.first && r.last === theirs[i]?.last);
    });
  }

  /** Takes over another pool's free space and counts (same space, new selectors or flags). */
  adoptSpaceOf(other: Pool): void {
    for (const family of ['IPv4', 'IPv6'] as const) {
      this.free[family] = other.free[family];
      this.inUse[family] = other.inUse[family];
    }
  }

  /** Builds the free space as ranges minus the given in-use addresses (sorted ascending per family). */
  buildFreeSpace(used: Record<Family, readonly bigint[]>): void {
    for (const family of ['IPv4', 'IPv6'] as const) {
      const set = new IntervalSet();
      const taken = used[family];
      let next = 0;
      for (const range of this.ranges[family]) {
        let cursor = range.first;
        while (next < taken.length && (taken[next] as bigint) < range.first) next++;
        while (next < taken.length && (taken[next] as bigint) <= range.last) {
          const value = taken[next] as bigint;
          if (value > cursor) set.addRange(cursor, value - 1n);
          cursor = value + 1n;
          next++;
        }
        if (cursor <= range.last) set.addRange(cursor, range.last);
      }
      this.free[family] = set;
      this.inUse[family] = BigInt(taken.length);
    }
  }

  hasFamily(family: Family): boolean {
    return this.ranges[family].length > 0;
  }

  /** Whether the pool's rules let this address be handed out at all. */
  allows(family: Family, value: bigint): boolean {
    return !(family === 'IPv4' && this.avoidBuggyIPs && isBuggyIPv4(value));
  }

  /** MetalLB's compatibility: namespace (list or selectors) and Service selectors. */
  admits(requester: Requester): boolean {
    const namespaces = this.spec.namespaces ?? [];
    const namespaceSelectors = this.spec.namespaceSelectors ?? [];
    if (namespaces.length > 0 || namespaceSelectors.length > 0) {
      const byName = namespaces.includes(requester.namespace);
      const byLabels = namespaceSelectors.some((matches) => matches(requester.namespaceLabels ?? {}));
      if (!byName && !byLabels) return false;
    }
    const serviceSelectors = this.spec.serviceSelectors ?? [];
    if (serviceSelectors.length > 0 && !serviceSelectors.some((matches) => matches(requester.labels ?? {}))) return false;
    return true;
  }

  /**
   * The lowest free address the pool may hand out, or undefined when full.
   * With avoidBuggyIPs, .0/.255 are skipped by arithmetic; an interval holding
   * nothing else is dropped from the free set on the way (those addresses are
   * never handed out), so each such interval costs once, not on every call.
   */
  lowestFree(family: Family): bigint | undefined {
    const set = this.free[family];
    for (let interval = set.first(); interval !== undefined; interval = set.first()) {
      if (!(family === 'IPv4' && this.avoidBuggyIPs)) return interval.first;
      const candidate = nextNonBuggyIPv4(interval.first);
      if (candidate <= interval.last) return candidate;
      set.deleteInterval(interval);
    }
    return undefined;
  }

  /** Marks a free address as used. */
  take(family: Family, value: bigint): void {
    if (!this.free[family].delete(value)) {
      throw new Error(`internal: ${family} ${value} taken twice from pool ${this.name}`);
    }
    this.inUse[family]++;
  }

  /** Returns an address to the free space. */
  giveBack(family: Family, value: bigint): void {
    this.free[family].add(value);
    this.inUse[family]--;
  }

  counts(): PoolCounts {
    const of = (family: Family): FamilyCounts => ({
      total: this.totals[family],
      inUse: this.inUse[family],
      available: this.totals[family] - this.inUse[family],
    });
    return { IPv4: of('IPv4'), IPv6: of('IPv6') };
  }
}

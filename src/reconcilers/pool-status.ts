import type { IPAddressPool, IPAddressPoolStatus } from '../api/index.ts';
import type { PoolRefusal } from '../allocator/allocator.ts';
import type { PoolCounts } from '../allocator/pool.ts';

const REFUSED_CONDITION = 'Refused';
const STALE_CONDITION = 'Stale';

type Condition = NonNullable<IPAddressPoolStatus['conditions']>[number];

/** Status counts are plain numbers (MetalLB's fields); an IPv6 /64 is larger than any, so it is capped. */
function toCount(value: bigint | undefined): number {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  const v = value ?? 0n;
  return Number(v > max ? max : v);
}

/**
 * What the pool's conditions say: `Refused` (its current spec is not in force:
 * reason InvalidSpec, Overlap or DuplicateName) and `Stale` (a refused edit left
 * the spec of `servingGeneration` in force, as MetalLB keeps a stale configuration).
 */
function poolConditions(refusal: PoolRefusal | undefined, servingGeneration: number | undefined): Array<Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>> {
  const refused: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'> = refusal
    ? { type: REFUSED_CONDITION, status: 'True', reason: refusal.reason, message: refusal.message }
    : { type: REFUSED_CONDITION, status: 'False', reason: 'Accepted', message: 'the pool is in use' };
  const serving = servingGeneration === undefined ? 'its last accepted spec' : `the spec of generation ${servingGeneration}`;
  const stale: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'> = refusal?.stale
    ? { type: STALE_CONDITION, status: 'True', reason: refusal.reason, message: `this edit is refused and ${serving} stays in force: ${refusal.message}` }
    : { type: STALE_CONDITION, status: 'False', reason: refusal ? 'NotInForce' : 'Current', message: refusal ? 'no earlier spec of this pool is in force' : 'the current spec is in force' };
  return [refused, stale];
}

/**
 * The merge patch that brings a pool's status to what the allocator says, or
 * undefined when it already says so (no write when nothing changed).
 */
export function poolStatusPatch(
  pool: IPAddressPool,
  counts: PoolCounts | undefined,
  refusal: PoolRefusal | undefined,
  now: string,
  servingGeneration?: number,
): { status: IPAddressPoolStatus } | undefined {
  const current = pool.status ?? {};
  const desired: IPAddressPoolStatus = {
    assignedIPv4: toCount(counts?.IPv4.inUse),
    assignedIPv6: toCount(counts?.IPv6.inUse),
    availableIPv4: toCount(counts?.IPv4.available),
    availableIPv6: toCount(counts?.IPv6.available),
    totalIPv4: toCount(counts?.IPv4.total),
    totalIPv6: toCount(counts?.IPv6.total),
    observedGeneration: pool.metadata?.generation ?? 0,
  };
  const wanted = poolConditions(refusal, servingGeneration);
  const previousOf = (type: string) => current.conditions?.find((condition) => condition.type === type);
  const conditionChanged = wanted.some((condition) => {
    const previous = previousOf(condition.type);
    return previous?.status !== condition.status || previous.reason !== condition.reason || previous.message !== condition.message;
  });
  const countsChanged = (Object.keys(desired) as Array<keyof IPAddressPoolStatus>).some((field) => current[field] !== desired[field]);
  if (!countsChanged && !conditionChanged) return undefined;
  const conditions = wanted.map((condition) => {
    const previous = previousOf(condition.type);
    const lastTransitionTime = previous && previous.status === condition.status ? (previous.lastTransitionTime ?? now) : now;
    return { ...condition, observedGeneration: desired.observedGeneration, lastTransitionTime };
  });
  const types = new Set(wanted.map((condition) => condition.type));
  const others = (current.conditions ?? []).filter((c) => !types.has(c.type));
  return { status: { ...desired, conditions: [...others, ...conditions] } };
}

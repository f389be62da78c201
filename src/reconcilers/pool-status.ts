import type { IPAddressPool, IPAddressPoolStatus } from '../api/index.ts';
import type { PoolCounts } from '../allocator/pool.ts';

const REFUSED_CONDITION = 'Refused';

/** Status counts are plain numbers (MetalLB's fields); an IPv6 /64 is larger than any, so it is capped. */
function toCount(value: bigint | undefined): number {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  const v = value ?? 0n;
  return Number(v > max ? max : v);
}

/**
 * The merge patch that brings a pool's status to what the allocator says, or
 * undefined when it already says so (no write when nothing changed).
 */
export function poolStatusPatch(pool: IPAddressPool, counts: PoolCounts | undefined, refusal: string | undefined, now: string): { status: IPAddressPoolStatus } | undefined {
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
  const previous = current.conditions?.find((condition) => condition.type === REFUSED_CONDITION);
  const status = refusal ? 'True' : 'False';
  const message = refusal ?? 'the pool is in use';
  const reason = refusal ? 'Overlap' : 'Accepted';
  const conditionChanged = previous?.status !== status || previous?.message !== message;
  const countsChanged = (Object.keys(desired) as Array<keyof IPAddressPoolStatus>).some((field) => current[field] !== desired[field]);
  if (!countsChanged && !conditionChanged) return undefined;
  const condition = {
    type: REFUSED_CONDITION,
    status,
    reason,
    message,
    observedGeneration: desired.observedGeneration,
    lastTransitionTime: previous && previous.status === status ? (previous.lastTransitionTime ?? now) : now,
  } as const;
  const others = (current.conditions ?? []).filter((c) => c.type !== REFUSED_CONDITION);
  return { status: { ...desired, conditions: [...others, condition] } };
}

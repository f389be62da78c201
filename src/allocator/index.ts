/**
 * The allocation engine's public surface (no Kubernetes types; the reconcilers adapt).
 *
 * How a Service reconciler drives it:
 * - Pools: `setPools(specs)` with every IPAddressPool, oldest first (creationTimestamp,
 *   then name). `refused` → a condition on each refused pool; `released` → an Event on
 *   each Service that lost its address, then requeue it. `poolStats()` → pool status.
 * - Start: before any `assign`, `adopt(request, status IPs)` for every Service that has
 *   addresses in its status, oldest first; a refused adoption (its `failure` is the Event
 *   text) is followed by `assign`, which hands out new addresses.
 * - Each Service of type LoadBalancer: `assign(request)`. `ok && changed` → write the
 *   status and the ip-allocated-from-pool annotation, Event IPAllocated; `released` → an
 *   Event saying why the old address went; `partial` → why PreferDualStack got one family;
 *   `!ok` → an Event with `failure.reason` and `failure.message`.
 * - Deleted or no longer LoadBalancer: `release(key, reason)`.
 * - Sharers of one address (`servicesOn(ip)`) are announced together.
 */
export {
  Allocator,
  type AdoptResult,
  type Assignment,
  type AssignResult,
  type Failure,
  type FailureReason,
  type PoolRefusal,
  type Release,
  type ReleaseReason,
  type SetPoolsResult,
} from './allocator.ts';
export type { Family } from './ip.ts';
export type { FamilyCounts, LabelPredicate, Labels, PoolCounts, PoolSpec } from './pool.ts';
export type { IpFamilyPolicy, ServicePort, ServiceRequest } from './request.ts';

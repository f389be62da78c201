/** The allocation engine's public surface (no Kubernetes types; the reconcilers adapt). */
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

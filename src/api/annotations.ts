/** Service annotations anchorlb reads and writes: MetalLB's, under the anchorlb.io prefix. */
export const ANNOTATION_PREFIX = 'anchorlb.io/';

export const SERVICE_ANNOTATIONS = {
  /** Take the address from this pool. */
  addressPool: 'anchorlb.io/address-pool',
  /** Comma-separated requested addresses, at most one per family. */
  loadBalancerIPs: 'anchorlb.io/loadBalancerIPs',
  /** Sharing key: Services with the same key may share an address. */
  allowSharedIP: 'anchorlb.io/allow-shared-ip',
  /** Written by the controller: the pool the addresses came from. */
  allocatedFromPool: 'anchorlb.io/ip-allocated-from-pool',
} as const;

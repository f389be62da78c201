/**
 * Kubernetes objects → the allocator's plain data: which Services are ours, what
 * they ask for, what the pools offer. Pure; every refusal names the field and value.
 */
import type { V1Service } from '@kubernetes/client-node';
import { SERVICE_ANNOTATIONS } from '../api/annotations.ts';
import { formatProblem, validateIPAddressPool, type IPAddressPool } from '../api/index.ts';
import type { PoolSpec } from '../allocator/pool.ts';
import type { ServiceRequest } from '../allocator/request.ts';
import type { Family } from '../allocator/ip.ts';
import { matchesLabelSelector, type LabelSelector } from '../common/labels.ts';

export function serviceKey(service: V1Service): string {
  return `${service.metadata?.namespace ?? ''}/${service.metadata?.name ?? ''}`;
}

/**
 * Strict loadBalancerClass: with no class configured only Services without a
 * class are ours; with one, only that class. Another class is never written.
 */
export function isOurs(service: V1Service, loadBalancerClass: string | undefined): boolean {
  return (service.spec?.loadBalancerClass ?? undefined) === loadBalancerClass;
}

export function isLoadBalancer(service: V1Service): boolean {
  return service.spec?.type === 'LoadBalancer';
}

export type RequestTranslation = { ok: true; request: ServiceRequest } | { ok: false; field: string; value: unknown; message: string };

export function serviceToRequest(service: V1Service, namespaceLabels: Record<string, string> | undefined): RequestTranslation {
  const annotations = service.metadata?.annotations ?? {};
  const spec = service.spec ?? {};
  const families = (spec.ipFamilies ?? ['IPv4']) as Family[];
  const requestedByAnnotation = annotations[SERVICE_ANNOTATIONS.loadBalancerIPs];
  if (requestedByAnnotation !== undefined && spec.loadBalancerIP) {
    return {
      ok: false,
      field: `metadata.annotations[${SERVICE_ANNOTATIONS.loadBalancerIPs}]`,
      value: requestedByAnnotation,
      message: `cannot be set together with spec.loadBalancerIP ("${spec.loadBalancerIP}"): use one of them`,
    };
  }
  const requestedIPs = requestedByAnnotation !== undefined
    ? requestedByAnnotation.split(',').map((ip) => ip.trim()).filter((ip) => ip !== '')
    : spec.loadBalancerIP
      ? [spec.loadBalancerIP]
      : undefined;
  const request: ServiceRequest = {
    key: serviceKey(service),
    namespace: service.metadata?.namespace ?? '',
    labels: service.metadata?.labels ?? {},
    namespaceLabels: namespaceLabels ?? {},
    ipFamilies: families,
    ipFamilyPolicy: (spec.ipFamilyPolicy as ServiceRequest['ipFamilyPolicy']) ?? 'SingleStack',
    externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    ports: (spec.ports ?? []).map((port) => ({ port: port.port, protocol: port.protocol ?? 'TCP' })),
  };
  if (requestedIPs) request.requestedIPs = requestedIPs;
  if (spec.selector) request.selector = spec.selector;
  const pool = annotations[SERVICE_ANNOTATIONS.addressPool];
  if (pool !== undefined) request.requestedPool = pool;
  const sharingKey = annotations[SERVICE_ANNOTATIONS.allowSharedIP];
  if (sharingKey !== undefined) request.sharingKey = sharingKey;
  return { ok: true, request };
}

/** The addresses a Service holds now, from its status (what a restart adopts). */
export function currentIngressIPs(service: V1Service): string[] {
  return (service.status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip).filter((ip): ip is string => typeof ip === 'string' && ip !== '');
}

export function poolToSpec(pool: IPAddressPool): PoolSpec {
  const spec = pool.spec;
  const allocation = spec.serviceAllocation;
  const predicate = (selector: LabelSelector) => (labels: Readonly<Record<string, string>>) => matchesLabelSelector(selector, labels);
  const result: PoolSpec = {
    name: pool.metadata?.name ?? '',
    addresses: spec.addresses,
    autoAssign: spec.autoAssign ?? true,
    avoidBuggyIPs: spec.avoidBuggyIPs ?? false,
  };
  if (allocation?.priority !== undefined) result.priority = allocation.priority;
  if (allocation?.namespaces) result.namespaces = allocation.namespaces;
  if (allocation?.namespaceSelectors) result.namespaceSelectors = allocation.namespaceSelectors.map((s) => predicate(s as LabelSelector));
  if (allocation?.serviceSelectors) result.serviceSelectors = allocation.serviceSelectors.map((s) => predicate(s as LabelSelector));
  // The single-object rules (selectors, namespaces, addresses); overlaps between pools are the allocator's.
  const problems = validateIPAddressPool(pool);
  if (problems.length > 0) result.invalid = `pool ${result.name}: ${problems.map(formatProblem).join('; ')}`;
  return result;
}

/** Pools in the order they claim address space: the earlier keeps its addresses when two overlap. */
export function poolsInPrecedence(pools: readonly IPAddressPool[]): IPAddressPool[] {
  return [...pools].sort((a, b) => {
    const ta = a.metadata?.creationTimestamp ?? '';
    const tb = b.metadata?.creationTimestamp ?? '';
    if (ta !== tb) return ta < tb ? -1 : 1;
    const na = a.metadata?.name ?? '';
    const nb = b.metadata?.name ?? '';
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
}

/**
 * A Service's ask, as plain data, and its validation into the form the
 * allocator works with.
 */
import { IpInputError, parseAddress, type Address, type Family } from './ip.ts';
import type { Labels, Requester } from './pool.ts';

export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

export interface ServicePort {
  port: number;
  protocol: string;
}

/** What the reconciler reads off one Service of type LoadBalancer. */
export interface ServiceRequest extends Requester {
  /** `namespace/name` */
  key: string;
  /** spec.ipFamilies, primary first; with PreferDualStack the second is best effort. */
  ipFamilies: readonly Family[];
  /** spec.ipFamilyPolicy, default SingleStack. */
  ipFamilyPolicy?: IpFamilyPolicy;
  /** spec.loadBalancerIP or the loadBalancerIPs annotation (at most one per family). */
  requestedIPs?: readonly string[];
  /** The address-pool annotation. */
  requestedPool?: string;
  /** The allow-shared-ip annotation. */
  sharingKey?: string;
  ports?: readonly ServicePort[];
  externalTrafficPolicy?: 'Cluster' | 'Local';
  /** spec.selector: part of the backend key for Local Services. */
  selector?: Labels;
}

/** A validated request. */
export interface NormalizedRequest extends Requester {
  key: string;
  families: Family[];
  policy: IpFamilyPolicy;
  requested: Address[];
  requestedPool: string | undefined;
  sharingKey: string;
  /** Empty for Cluster; the pod selector for Local (sharers must select the same pods). */
  backendKey: string;
  ports: Set<string>;
}

const POLICIES: readonly IpFamilyPolicy[] = ['SingleStack', 'PreferDualStack', 'RequireDualStack'];
const PROTOCOLS: readonly string[] = ['TCP', 'UDP', 'SCTP'];

/** Validates a request; throws IpInputError naming the field and the value. */
export function normalizeRequest(request: ServiceRequest): NormalizedRequest {
  if (typeof request.key !== 'string' || request.key === '') throw new IpInputError('service key: must not be empty');
  const families = [...request.ipFamilies];
  if (
    families.length < 1 ||
    families.length > 2 ||
    families.some((f) => f !== 'IPv4' && f !== 'IPv6') ||
    families[0] === families[1]
  ) {
    throw new IpInputError(`spec.ipFamilies: ${JSON.stringify(families)} must be one or two distinct of IPv4, IPv6`);
  }
  const policy = request.ipFamilyPolicy ?? 'SingleStack';
  if (!POLICIES.includes(policy)) {
    throw new IpInputError(`spec.ipFamilyPolicy: ${JSON.stringify(policy)} must be one of ${POLICIES.join(', ')}`);
  }
  if (policy === 'RequireDualStack' && families.length < 2) {
    throw new IpInputError(`spec.ipFamilies: ${JSON.stringify(families)} must list both families for RequireDualStack`);
  }
  if (policy === 'SingleStack' && families.length > 1) {
    throw new IpInputError(`spec.ipFamilies: ${JSON.stringify(families)} must list one family for SingleStack`);
  }

  const requested = (request.requestedIPs ?? []).map((text) => parseAddress(text, 'loadBalancerIPs'));
  const requestedText = JSON.stringify(request.requestedIPs ?? []);
  if (requested.length > 2 || (requested.length === 2 && requested[0]?.family === requested[1]?.family)) {
    throw new IpInputError(`loadBalancerIPs: ${requestedText} must hold at most one address per family`);
  }
  const requestedFamilies = requested.map((address) => address.family);
  const familiesFit =
    requestedFamilies.every((family) => families.includes(family)) &&
    (policy === 'PreferDualStack' || requested.length === 0 || requested.length === families.length);
  if (!familiesFit) {
    throw new IpInputError(
      `loadBalancerIPs: ${requestedText} does not match the Service's ipFamilies ${JSON.stringify(families)}`,
    );
  }
  requested.sort((a, b) => families.indexOf(a.family) - families.indexOf(b.family));

  const ports = new Set<string>();
  for (const [index, port] of (request.ports ?? []).entries()) {
    if (!Number.isInteger(port.port) || port.port < 1 || port.port > 65535) {
      throw new IpInputError(`spec.ports[${index}].port: ${JSON.stringify(port.port)} must be 1-65535`);
    }
    const protocol = port.protocol || 'TCP';
    if (!PROTOCOLS.includes(protocol)) {
      throw new IpInputError(
        `spec.ports[${index}].protocol: ${JSON.stringify(port.protocol)} must be one of ${PROTOCOLS.join(', ')}`,
      );
    }
    ports.add(`${protocol}/${port.port}`);
  }

  const trafficPolicy = request.externalTrafficPolicy ?? 'Cluster';
  if (trafficPolicy !== 'Cluster' && trafficPolicy !== 'Local') {
    throw new IpInputError(`spec.externalTrafficPolicy: ${JSON.stringify(trafficPolicy)} must be Cluster or Local`);
  }
  // A Local Service with an empty selector must still not share with Cluster ones.
  const backendKey =
    trafficPolicy === 'Local'
      ? `Local:${Object.entries(request.selector ?? {})
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, value]) => `${name}=${value}`)
          .join(',')}`
      : '';

  return {
    key: request.key,
    namespace: request.namespace,
    labels: request.labels ?? {},
    namespaceLabels: request.namespaceLabels ?? {},
    families,
    policy,
    requested,
    requestedPool: request.requestedPool || undefined,
    sharingKey: request.sharingKey ?? '',
    backendKey,
    ports,
  };
}

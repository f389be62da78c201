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
  families: readonly Family[];
  policy: IpFamilyPolicy;
  requested: readonly Address[];
  requestedPool: string | undefined;
  sharingKey: string;
  /** Empty for Cluster; the pod selector for Local (sharers must select the same pods). */
  backendKey: string;
  /** `TCP/80` style, distinct (a short array: cheaper than a Set per Service). */
  ports: readonly string[];
}

const POLICIES: readonly IpFamilyPolicy[] = ['SingleStack', 'PreferDualStack', 'RequireDualStack'];
const PROTOCOLS: readonly string[] = ['TCP', 'UDP', 'SCTP'];
// Shared values keep the per-Service state small: every held request is retained.
const FAMILY_LISTS: ReadonlyMap<string, readonly Family[]> = new Map(
  [['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']].map((list) => [list.join(), Object.freeze(list as Family[])]),
);
const NONE: readonly never[] = Object.freeze([]);
const NO_LABELS: Labels = Object.freeze({});
const PORT_TEXT_LIMIT = 10_000;
const portTexts = new Map<string, string>();

/** One string per distinct `PROTOCOL/port`, bounded so odd input cannot grow it forever. */
function portText(protocol: string, port: number): string {
  const text = `${protocol}/${port}`;
  const known = portTexts.get(text);
  if (known !== undefined) return known;
  if (portTexts.size < PORT_TEXT_LIMIT) portTexts.set(text, text);
  return text;
}

/** Validates a request; throws IpInputError naming the field and the value. */
export function normalizeRequest(request: ServiceRequest): NormalizedRequest {
  if (typeof request.key !== 'string' || request.key === '') throw new IpInputError('service key: must not be empty');
  const families = Array.isArray(request.ipFamilies) ? FAMILY_LISTS.get(request.ipFamilies.join()) : undefined;
  if (families === undefined) {
    throw new IpInputError(`spec.ipFamilies: ${JSON.stringify(request.ipFamilies)} must be one or two distinct of IPv4, IPv6`);
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

  const requested = request.requestedIPs?.length
    ? request.requestedIPs.map((text) => parseAddress(text, 'loadBalancerIPs'))
    : NONE;
  if (requested.length > 2 || (requested.length === 2 && requested[0]?.family === requested[1]?.family)) {
    throw new IpInputError(`loadBalancerIPs: ${JSON.stringify(request.requestedIPs)} must hold at most one address per family`);
  }
  const requestedFamilies = requested.map((address) => address.family);
  const familiesFit =
    requestedFamilies.every((family) => families.includes(family)) &&
    (policy === 'PreferDualStack' || requested.length === 0 || requested.length === families.length);
  if (!familiesFit) {
    throw new IpInputError(
      `loadBalancerIPs: ${JSON.stringify(request.requestedIPs)} does not match the Service's ipFamilies ${JSON.stringify(families)}`,
    );
  }
  if (requested.length === 2 && requested[0]?.family !== families[0]) (requested as Address[]).reverse();

  const servicePorts = request.ports ?? NONE;
  const ports: string[] = [];
  for (let index = 0; index < servicePorts.length; index++) {
    const port = servicePorts[index] as ServicePort;
    if (!Number.isInteger(port.port) || port.port < 1 || port.port > 65535) {
      throw new IpInputError(`spec.ports[${index}].port: ${JSON.stringify(port.port)} must be 1-65535`);
    }
    const protocol = port.protocol || 'TCP';
    if (!PROTOCOLS.includes(protocol)) {
      throw new IpInputError(
        `spec.ports[${index}].protocol: ${JSON.stringify(port.protocol)} must be one of ${PROTOCOLS.join(', ')}`,
      );
    }
    const text = portText(protocol, port.port);
    if (!ports.includes(text)) ports.push(text);
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
    labels: request.labels ?? NO_LABELS,
    namespaceLabels: request.namespaceLabels ?? NO_LABELS,
    families,
    policy,
    requested,
    requestedPool: request.requestedPool || undefined,
    sharingKey: request.sharingKey ?? '',
    backendKey,
    ports: ports.length === 0 ? NONE : ports,
  };
}

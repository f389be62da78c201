import { ipVersion, parseIp, stringifyIp } from 'ip-bigint';
import { fieldInvalid, fieldRequired, fieldUnsupported, type StatusCause } from './errors.ts';
import { isJsonObject, type JsonObject, type KubeObject } from './types.ts';

/**
 * Service defaulting, allocation and validation as kube-apiserver does it for the
 * fields anchorlb uses: cluster IPs from the service CIDRs, ipFamilies /
 * ipFamilyPolicy, node ports, traffic policies, loadBalancerClass immutability.
 */

export interface ServiceNetwork {
  ipv4Cidr: string;
  ipv6Cidr: string;
  nodePortMin: number;
  nodePortMax: number;
}

export const DEFAULT_SERVICE_NETWORK: ServiceNetwork = { ipv4Cidr: '10.96.0.0/12', ipv6Cidr: 'fd00:10:96::/112', nodePortMin: 30000, nodePortMax: 32767 };

/** What other Services already hold, as admission asks it. */
export interface Allocations {
  hasClusterIP(ip: string): boolean;
  hasNodePort(port: number): boolean;
  /**
   * The lowest address of `cidr` after the network address (before the broadcast,
   * within its first 65,536) that no other Service holds and is not in `besides`.
   */
  lowestFreeClusterIP(cidr: string, besides: readonly string[]): string | undefined;
}

type Family = 'IPv4' | 'IPv6';

const TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack'];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

function cidrRange(cidr: string): { first: bigint; last: bigint; version: 4 | 6 } {
  const [address = '', lengthText = ''] = cidr.split('/');
  const parsed = parseIp(address);
  const bits = parsed.version === 4 ? 32 : 128;
  const hostBits = BigInt(bits - Number(lengthText));
  const first = (parsed.number >> hostBits) << hostBits;
  return { first, last: first + (1n << hostBits) - 1n, version: parsed.version };
}

function familyOf(ip: string): Family | undefined {
  const version = ipVersion(ip);
  return version === 4 ? 'IPv4' : version === 6 ? 'IPv6' : undefined;
}

function inCidr(ip: string, cidr: string): boolean {
  const range = cidrRange(cidr);
  const parsed = parseIp(ip);
  return parsed.version === range.version && parsed.number > range.first && parsed.number < range.last;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Defaults, allocates and validates `service.spec` in place; returns the causes of a 422 (empty when valid). */
export function admitService(service: KubeObject, old: KubeObject | undefined, used: Allocations, network: ServiceNetwork = DEFAULT_SERVICE_NETWORK): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!isJsonObject(service.spec)) service.spec = {};
  const spec = service.spec as JsonObject;
  const oldSpec = isJsonObject(old?.spec) ? old.spec : undefined;
  spec.type ??= 'ClusterIP';
  const type = spec.type;
  if (typeof type !== 'string' || !TYPES.includes(type)) {
    causes.push(fieldUnsupported('spec.type', type, TYPES));
    return causes;
  }
  spec.sessionAffinity ??= 'None';
  if (type !== 'ExternalName') spec.internalTrafficPolicy ??= 'Cluster';
  if (type === 'NodePort' || type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster';
  else delete spec.externalTrafficPolicy;
  if (type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  else delete spec.allocateLoadBalancerNodePorts;

  // loadBalancerClass: only for LoadBalancer, and fixed once set.
  if (spec.loadBalancerClass !== undefined && type !== 'LoadBalancer') {
    causes.push({ reason: 'FieldValueForbidden', field: 'spec.loadBalancerClass', message: "Forbidden: may only be used when `type` is 'LoadBalancer'" });
  }
  if (oldSpec && oldSpec.type === 'LoadBalancer' && type === 'LoadBalancer' && oldSpec.loadBalancerClass !== undefined && spec.loadBalancerClass !== oldSpec.loadBalancerClass) {
    causes.push(fieldInvalid('spec.loadBalancerClass', spec.loadBalancerClass ?? null, 'may not change once set'));
  }

  const headless = spec.clusterIP === 'None' || strings(spec.clusterIPs)[0] === 'None';
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  if (ports.length === 0 && !headless && type !== 'ExternalName') causes.push(fieldRequired('spec.ports'));
  const seen = new Set<string>();
  ports.forEach((port, i) => {
    const path = `spec.ports[${i}]`;
    if (!isJsonObject(port)) {
      causes.push(fieldInvalid(path, port, 'must be an object'));
      return;
    }
    port.protocol ??= 'TCP';
    if (typeof port.protocol !== 'string' || !PROTOCOLS.includes(port.protocol)) causes.push(fieldUnsupported(`${path}.protocol`, port.protocol, PROTOCOLS));
    if (typeof port.port !== 'number' || !Number.isInteger(port.port) || port.port < 1 || port.port > 65535) {
      causes.push(fieldInvalid(`${path}.port`, port.port ?? null, 'must be between 1 and 65535, inclusive'));
    }
    port.targetPort ??= port.port;
    if (ports.length > 1 && (typeof port.name !== 'string' || port.name === '')) causes.push(fieldRequired(`${path}.name`));
    const key = `${String(port.port)}/${String(port.protocol)}`;
    if (seen.has(key)) causes.push({ reason: 'FieldValueDuplicate', field: path, message: `Duplicate value: ${JSON.stringify({ port: port.port, protocol: port.protocol })}` });
    seen.add(key);
  });

  if (type === 'ExternalName') return causes;

  // Allocated values the client left empty on update are kept, as kube-apiserver does.
  if (oldSpec && (spec.clusterIP === undefined || spec.clusterIP === '') && strings(spec.clusterIPs).length === 0) {
    if (oldSpec.clusterIP !== undefined) spec.clusterIP = oldSpec.clusterIP;
    if (oldSpec.clusterIPs !== undefined) spec.clusterIPs = oldSpec.clusterIPs;
  }
  if (oldSpec && spec.ipFamilies === undefined && oldSpec.ipFamilies !== undefined) spec.ipFamilies = oldSpec.ipFamilies;
  if (oldSpec && spec.ipFamilyPolicy === undefined && oldSpec.ipFamilyPolicy !== undefined) spec.ipFamilyPolicy = oldSpec.ipFamilyPolicy;
  causes.push(...assignClusterIPs(spec, oldSpec, used, network));
  causes.push(...assignNodePorts(spec, oldSpec, ports, used, network));
  return causes;
}

function assignClusterIPs(spec: JsonObject, oldSpec: JsonObject | undefined, used: Allocations, network: ServiceNetwork): StatusCause[] {
  const causes: StatusCause[] = [];
  const requested = strings(spec.clusterIPs).length > 0 ? strings(spec.clusterIPs) : typeof spec.clusterIP === 'string' && spec.clusterIP !== '' ? [spec.clusterIP] : [];
  if (typeof spec.clusterIP === 'string' && spec.clusterIP !== '' && requested[0] !== spec.clusterIP) {
    causes.push(fieldInvalid('spec.clusterIPs', requested, 'must have the same value as spec.clusterIP at index 0'));
    return causes;
  }
  const policy = spec.ipFamilyPolicy ?? (requested.length > 1 ? 'RequireDualStack' : 'SingleStack');
  if (typeof policy !== 'string' || !POLICIES.includes(policy)) {
    causes.push(fieldUnsupported('spec.ipFamilyPolicy', policy, POLICIES));
    return causes;
  }
  spec.ipFamilyPolicy = policy;
  let families: Family[] = [];
  for (const [i, family] of strings(spec.ipFamilies).entries()) {
    if (family !== 'IPv4' && family !== 'IPv6') causes.push(fieldUnsupported(`spec.ipFamilies[${i}]`, family, ['IPv4', 'IPv6']));
    else families.push(family);
  }
  if (causes.length > 0) return causes;
  const headless = requested[0] === 'None';
  if (families.length === 0) {
    const fromIPs = headless ? [] : requested.map(familyOf).filter((f): f is Family => f !== undefined);
    families = fromIPs.length > 0 ? fromIPs : ['IPv4'];
  }
  if (policy !== 'SingleStack' && families.length === 1) families.push(families[0] === 'IPv4' ? 'IPv6' : 'IPv4');
  if (policy === 'SingleStack' && families.length > 1) {
    causes.push(fieldInvalid('spec.ipFamilies', families, 'when spec.ipFamilyPolicy is SingleStack, at most one family may be given'));
    return causes;
  }
  if (families.length === 2 && families[0] === families[1]) {
    causes.push({ reason: 'FieldValueDuplicate', field: 'spec.ipFamilies[1]', message: `Duplicate value: "${families[1]}"` });
    return causes;
  }
  spec.ipFamilies = families;
  if (headless) {
    spec.clusterIP = 'None';
    spec.clusterIPs = ['None'];
    return causes;
  }
  const oldIPs = strings(oldSpec?.clusterIPs);
  const assigned: string[] = [];
  for (const [i, family] of families.entries()) {
    const cidr = family === 'IPv4' ? network.ipv4Cidr : network.ipv6Cidr;
    const wanted = requested[i];
    if (wanted !== undefined) {
      if (familyOf(wanted) !== family) causes.push(fieldInvalid(`spec.clusterIPs[${i}]`, wanted, `expected an ${family} value as indicated by \`ipFamilies[${i}]\``));
      else if (!inCidr(wanted, cidr)) causes.push(fieldInvalid(`spec.clusterIPs[${i}]`, wanted, `failed to allocate IP ${wanted}: the provided IP (${wanted}) is not in the valid range. The range of valid IPs is ${cidr}`));
      else if (used.hasClusterIP(wanted) && !oldIPs.includes(wanted)) causes.push(fieldInvalid(`spec.clusterIPs[${i}]`, wanted, `failed to allocate IP ${wanted}: provided IP is already allocated`));
      else assigned.push(wanted);
    } else {
      const ip = used.lowestFreeClusterIP(cidr, assigned);
      if (ip === undefined) causes.push(fieldInvalid(`spec.clusterIPs[${i}]`, null, `failed to allocate an ${family} address: range is full`));
      else assigned.push(ip);
    }
  }
  if (oldIPs.length > 0 && oldIPs[0] !== assigned[0] && causes.length === 0) {
    causes.push(fieldInvalid('spec.clusterIPs[0]', assigned[0], 'may not change once set'));
  }
  spec.clusterIP = assigned[0];
  spec.clusterIPs = assigned;
  return causes;
}

function assignNodePorts(spec: JsonObject, oldSpec: JsonObject | undefined, ports: unknown[], used: Allocations, network: ServiceNetwork): StatusCause[] {
  const causes: StatusCause[] = [];
  const wantsNodePorts = spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
  const oldPorts = Array.isArray(oldSpec?.ports) ? oldSpec.ports : [];
  const oldNodePorts = new Set(oldPorts.map((p) => (isJsonObject(p) ? p.nodePort : undefined)).filter((p): p is number => typeof p === 'number'));
  // Ports this Service takes here, besides those the others hold.
  const mine = new Set<number>();
  const taken = { has: (port: number) => mine.has(port) || used.hasNodePort(port), add: (port: number) => mine.add(port) };
  let next = network.nodePortMin;
  ports.forEach((port, i) => {
    if (!isJsonObject(port)) return;
    if (spec.type === 'ClusterIP') {
      delete port.nodePort;
      return;
    }
    if (port.nodePort === undefined || port.nodePort === 0) {
      const previous = oldPorts.find((p) => isJsonObject(p) && p.port === port.port && p.protocol === port.protocol);
      if (isJsonObject(previous) && typeof previous.nodePort === 'number') port.nodePort = previous.nodePort;
    }
    if (port.nodePort !== undefined && port.nodePort !== 0) {
      const nodePort = port.nodePort;
      if (typeof nodePort !== 'number' || nodePort < network.nodePortMin || nodePort > network.nodePortMax) {
        causes.push(fieldInvalid(`spec.ports[${i}].nodePort`, nodePort, `provided port is not in the valid range. The range of valid ports is ${network.nodePortMin}-${network.nodePortMax}`));
      } else if (taken.has(nodePort) && !oldNodePorts.has(nodePort)) {
        causes.push(fieldInvalid(`spec.ports[${i}].nodePort`, nodePort, 'provided port is already allocated'));
      }
      if (typeof nodePort === 'number') taken.add(nodePort);
      return;
    }
    if (!wantsNodePorts) return;
    while (taken.has(next) && next <= network.nodePortMax) next++;
    if (next > network.nodePortMax) causes.push(fieldInvalid(`spec.ports[${i}].nodePort`, null, 'range is full'));
    else {
      port.nodePort = next;
      taken.add(next);
    }
  });
  if (spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local') {
    if (typeof spec.healthCheckNodePort !== 'number') {
      const previous = oldSpec?.healthCheckNodePort;
      if (typeof previous === 'number') spec.healthCheckNodePort = previous;
      else {
        while (taken.has(next) && next <= network.nodePortMax) next++;
        if (next <= network.nodePortMax) spec.healthCheckNodePort = next;
      }
    }
  } else delete spec.healthCheckNodePort;
  return causes;
}

/** Cluster IPs and node ports held by a Service. */
function allocationsOf(service: KubeObject): { clusterIPs: string[]; nodePorts: number[] } {
  const spec = isJsonObject(service.spec) ? service.spec : {};
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  const nodePorts = ports.map((p) => (isJsonObject(p) ? p.nodePort : undefined)).filter((p): p is number => typeof p === 'number');
  if (typeof spec.healthCheckNodePort === 'number') nodePorts.push(spec.healthCheckNodePort);
  return { clusterIPs: strings(spec.clusterIPs).filter((ip) => ip !== 'None'), nodePorts };
}

function count<T>(counts: Map<T, number>, value: T, delta: number): void {
  const next = (counts.get(value) ?? 0) + delta;
  if (next > 0) counts.set(value, next);
  else counts.delete(value);
}

/**
 * What every stored Service holds, kept up to date one Service write at a time,
 * so admitting a Service costs the same with ten Services stored as with ten
 * thousand (no scan of the table; allocation scans resume where all addresses
 * before were held).
 */
export class ServiceAllocationIndex {
  /** Service key (namespace/name) → what it holds. */
  private readonly held = new Map<string, { clusterIPs: string[]; nodePorts: number[] }>();
  /** How many Services hold each address / port (more than one only in data written around admission). */
  private readonly ipHolders = new Map<string, number>();
  private readonly portHolders = new Map<number, number>();
  /** Per CIDR: every address from the first host address up to (not including) this one is held. */
  private readonly floors = new Map<string, bigint>();

  /** Records what the Service under `key` holds now (`undefined`: it is gone). */
  set(key: string, service: KubeObject | undefined): void {
    const before = this.held.get(key);
    // The new holdings count first, so an address kept across the write is never seen free (which would lower the floors).
    if (service) {
      const now = allocationsOf(service);
      this.held.set(key, now);
      for (const ip of now.clusterIPs) count(this.ipHolders, ip, 1);
      for (const port of now.nodePorts) count(this.portHolders, port, 1);
    } else this.held.delete(key);
    for (const ip of before?.clusterIPs ?? []) {
      count(this.ipHolders, ip, -1);
      if (!this.ipHolders.has(ip)) this.lowerFloors(ip);
    }
    for (const port of before?.nodePorts ?? []) count(this.portHolders, port, -1);
  }

  /** Forgets everything and records `services` (after the store was replaced from a snapshot). */
  reset(services: Iterable<{ key: string; service: KubeObject }>): void {
    this.held.clear();
    this.ipHolders.clear();
    this.portHolders.clear();
    this.floors.clear();
    for (const { key, service } of services) this.set(key, service);
  }

  /** What the Services other than the one under `key` hold. */
  others(key: string): Allocations {
    const own = this.held.get(key) ?? { clusterIPs: [], nodePorts: [] };
    const heldByOthers = <T>(holders: Map<T, number>, mine: T[], value: T) => (holders.get(value) ?? 0) > mine.filter((v) => v === value).length;
    const hasClusterIP = (ip: string) => heldByOthers(this.ipHolders, own.clusterIPs, ip);
    return {
      hasClusterIP,
      hasNodePort: (port) => heldByOthers(this.portHolders, own.nodePorts, port),
      lowestFreeClusterIP: (cidr, besides) => {
        const range = cidrRange(cidr);
        const end = range.last < range.first + 65536n ? range.last : range.first + 65536n;
        // The scan starts at the floor; an address of this Service's own may lie below it.
        let best: bigint | undefined;
        for (const ip of own.clusterIPs) {
          if (hasClusterIP(ip) || besides.includes(ip) || ipVersion(ip) !== range.version) continue;
          const n = parseIp(ip).number;
          if (n > range.first && n < end && (best === undefined || n < best)) best = n;
        }
        let floor = this.floors.get(cidr) ?? range.first + 1n;
        for (let n = floor; n < end && (best === undefined || n < best); n++) {
          const ip = stringifyIp({ number: n, version: range.version });
          if (n === floor && this.ipHolders.has(ip)) floor = n + 1n;
          if (!hasClusterIP(ip) && !besides.includes(ip)) best = n;
        }
        this.floors.set(cidr, floor);
        return best === undefined ? undefined : stringifyIp({ number: best, version: range.version });
      },
    };
  }

  private lowerFloors(ip: string): void {
    const version = ipVersion(ip);
    if (version !== 4 && version !== 6) return;
    const n = parseIp(ip).number;
    for (const [cidr, floor] of this.floors) {
      const range = cidrRange(cidr);
      if (range.version === version && n > range.first && n < floor) this.floors.set(cidr, n);
    }
  }
}

/**
 * VIPStatus: one object per (Service, IP, node, mode) that this node really
 * announces, in the Service's namespace and owned by it, so it goes with it.
 * The plan is pure; the writer applies it and writes nothing when nothing changed,
 * so a failover costs writes on the nodes involved only.
 */
import { API_VERSION, GROUP, PLURALS, VERSION, VIP_LABELS, ipLabelValue, type VIPStatus, type VIPStatusStatus } from '../api/index.ts';
import type { Logger } from '../common/log.ts';
import type { KubeRest } from '../kube/rest.ts';

export interface ServiceRef {
  namespace: string;
  name: string;
  uid?: string;
}

/** What this node actually announces for one IP and mode (reported by the appliers, never intended state). */
export interface AnnouncedVip {
  ip: string;
  mode: 'L2' | 'BGP';
  services: ServiceRef[];
  status: Omit<VIPStatusStatus, 'ip' | 'mode' | 'node' | 'service'>;
}

export interface VipStatusPlan {
  create: VIPStatus[];
  /** Merge patches (fields gone since are set to null) for objects whose status differs. */
  updateStatus: Array<{ object: VIPStatus; patch: { status: Record<string, unknown> } }>;
  delete: VIPStatus[];
}

export function vipStatusName(service: string, ip: string, node: string, mode: 'L2' | 'BGP'): string {
  const name = `${service}-${ipLabelValue(ip) ?? ip.replace(/[^a-z0-9.-]/gi, '-')}-${node}-${mode.toLowerCase()}`;
  // Object names are DNS subdomains: at most 253 characters, lower case.
  return name.toLowerCase().slice(0, 253).replace(/[-.]+$/, '');
}

export function desiredVipStatuses(node: string, announced: readonly AnnouncedVip[]): VIPStatus[] {
  const objects: VIPStatus[] = [];
  for (const vip of announced) {
    for (const service of vip.services) {
      const metadata: VIPStatus['metadata'] = {
        name: vipStatusName(service.name, vip.ip, node, vip.mode),
        namespace: service.namespace,
        labels: {
          [VIP_LABELS.ip]: ipLabelValue(vip.ip) ?? '',
          [VIP_LABELS.node]: node,
          [VIP_LABELS.serviceName]: service.name,
          [VIP_LABELS.serviceNamespace]: service.namespace,
        },
      };
      if (service.uid) metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Service', name: service.name, uid: service.uid, blockOwnerDeletion: false, controller: false }];
      objects.push({
        apiVersion: API_VERSION,
        kind: 'VIPStatus',
        metadata,
        status: { ...vip.status, ip: vip.ip, mode: vip.mode, node, service: { namespace: service.namespace, name: service.name } },
      });
    }
  }
  return objects;
}

const identity = (object: VIPStatus) => `${object.metadata.namespace}/${object.metadata.name}`;

/** Creates what is missing, rewrites only statuses that differ, deletes what this node no longer announces. */
export function planVipStatuses(desired: readonly VIPStatus[], existing: readonly VIPStatus[]): VipStatusPlan {
  const have = new Map(existing.map((object) => [identity(object), object]));
  const want = new Map(desired.map((object) => [identity(object), object]));
  const plan: VipStatusPlan = { create: [], updateStatus: [], delete: [] };
  for (const [id, object] of want) {
    const current = have.get(id);
    if (!current) plan.create.push(object);
    else if (!sameJson(current.status, object.status)) plan.updateStatus.push({ object, patch: { status: statusPatch(current.status, object.status) } });
  }
  for (const [id, object] of have) if (!want.has(id)) plan.delete.push(object);
  return plan;
}

function statusPatch(current: VIPStatusStatus | undefined, desired: VIPStatusStatus | undefined): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...desired };
  for (const key of Object.keys(current ?? {})) if (!(key in patch)) patch[key] = null;
  return patch;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

export class VipStatusWriter {
  constructor(
    private readonly rest: KubeRest,
    private readonly node: string,
    private readonly logger: Logger,
  ) {}

  /** This node's VIPStatus objects as the API server has them. */
  async existing(): Promise<VIPStatus[]> {
    const list = await this.rest.getJson<{ items: VIPStatus[] }>(`/apis/${GROUP}/${VERSION}/${PLURALS.VIPStatus}`, { labelSelector: `${VIP_LABELS.node}=${this.node}` });
    return list.items;
  }

  async write(announced: readonly AnnouncedVip[]): Promise<VipStatusPlan> {
    const plan = planVipStatuses(desiredVipStatuses(this.node, announced), await this.existing());
    const path = (object: VIPStatus) => `/apis/${GROUP}/${VERSION}/namespaces/${object.metadata.namespace}/${PLURALS.VIPStatus}/${object.metadata.name}`;
    for (const object of plan.create) {
      const { status, ...withoutStatus } = object;
      await this.rest.create(`/apis/${GROUP}/${VERSION}/namespaces/${object.metadata.namespace}/${PLURALS.VIPStatus}`, withoutStatus);
      await this.rest.patch(`${path(object)}/status`, { status });
    }
    for (const { object, patch } of plan.updateStatus) await this.rest.patch(`${path(object)}/status`, patch);
    for (const object of plan.delete) {
      await this.rest.delete(path(object)).catch((error: unknown) => this.logger.warn({ err: String(error), name: object.metadata.name }, 'could not delete VIPStatus'));
    }
    return plan;
  }
}

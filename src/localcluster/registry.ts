import { isJsonObject, type JsonObject, type KubeObject } from './types.ts';

/** What the server knows about each resource it serves: names, scope, verbs, columns. */

export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description: string;
  priority: number;
  value(object: KubeObject): unknown;
}

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  statusSubresource: boolean;
  /** Fields a field selector may use besides metadata.name and metadata.namespace. */
  selectableFields: string[];
  columns: PrinterColumn[];
  /** Set for custom resources: the CRD that serves them. */
  crdName?: string;
  /** Set when objects live in another resource's table (events.k8s.io events are core events). */
  storedAs?: string;
}

export const STANDARD_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function storageKey(resource: Pick<ResourceType, 'group' | 'plural' | 'storedAs'>): string {
  return resource.storedAs ?? `${resource.group}/${resource.plural}`;
}

export function apiVersionOf(resource: Pick<ResourceType, 'group' | 'version'>): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

export class ResourceRegistry {
  private readonly types = new Map<string, ResourceType>();

  add(resource: ResourceType): void {
    this.types.set(`${resource.group}/${resource.version}/${resource.plural}`, resource);
  }

  removeWhere(predicate: (resource: ResourceType) => boolean): void {
    for (const [key, resource] of this.types) if (predicate(resource)) this.types.delete(key);
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.get(`${group}/${version}/${plural}`);
  }

  byKind(group: string, version: string, kind: string): ResourceType | undefined {
    for (const resource of this.types.values()) {
      if (resource.group === group && resource.version === version && resource.kind === kind) return resource;
    }
    return undefined;
  }

  all(): ResourceType[] {
    return [...this.types.values()];
  }

  /** Group → versions in registration order (the first is preferred). */
  groupVersions(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const resource of this.types.values()) {
      const versions = groups.get(resource.group) ?? [];
      if (!versions.includes(resource.version)) versions.push(resource.version);
      groups.set(resource.group, versions);
    }
    return groups;
  }

  inGroupVersion(group: string, version: string): ResourceType[] {
    return this.all().filter((r) => r.group === group && r.version === version);
  }
}

/** kube-apiserver's short age format (`45s`, `3m12s`, `5h`, `2d3h`). */
export function humanDuration(milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return `${minutes}m${seconds % 60 === 0 ? '' : `${seconds % 60}s`}`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return `${hours}h${minutes % 60 === 0 ? '' : `${minutes % 60}m`}`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 8) return `${days}d${hours % 24 === 0 ? '' : `${hours % 24}h`}`;
  if (days < 730) return `${days}d`;
  const years = Math.floor(days / 365);
  return years < 8 ? `${years}y${days % 365 === 0 ? '' : `${days % 365}d`}` : `${years}y`;
}

export function ageOf(timestamp: unknown, now = Date.now()): string {
  if (typeof timestamp !== 'string') return '<unknown>';
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? '<unknown>' : humanDuration(now - at);
}

function at(object: unknown, path: string): unknown {
  let current = object;
  for (const part of path.split('.')) current = isJsonObject(current) ? current[part] : undefined;
  return current;
}

function list(object: unknown, path: string): unknown[] {
  const value = at(object, path);
  return Array.isArray(value) ? value : [];
}

function col(name: string, value: (object: KubeObject) => unknown, type = 'string', priority = 0): PrinterColumn {
  return { name, type, description: name, priority, value };
}

const AGE = col('Age', (o) => ageOf(o.metadata.creationTimestamp));

function orNone(text: string): string {
  return text === '' ? '<none>' : text;
}

function servicePorts(service: KubeObject): string {
  return orNone(
    list(service, 'spec.ports')
      .map((p) => `${String(at(p, 'port'))}${at(p, 'nodePort') ? `:${String(at(p, 'nodePort'))}` : ''}/${String(at(p, 'protocol') ?? 'TCP')}`)
      .join(','),
  );
}

function externalIPs(service: KubeObject): string {
  const ingress = list(service, 'status.loadBalancer.ingress').map((i) => String(at(i, 'ip') ?? at(i, 'hostname') ?? ''));
  const external = list(service, 'spec.externalIPs').map(String);
  const all = [...ingress, ...external].filter((s) => s !== '');
  if (all.length > 0) return all.join(',');
  return at(service, 'spec.type') === 'LoadBalancer' ? '<pending>' : '<none>';
}

function selectorText(selector: unknown): string {
  return isJsonObject(selector) ? orNone(Object.entries(selector).map(([k, v]) => `${k}=${String(v)}`).join(',')) : '<none>';
}

function conditionStatus(object: KubeObject, type: string): unknown {
  return list(object, 'status.conditions').find((c) => at(c, 'type') === type) as JsonObject | undefined;
}

function count(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

interface BuiltinSpec {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  status?: boolean;
  verbs?: string[];
  fields?: string[];
  columns?: PrinterColumn[];
  storedAs?: string;
}

const ALL = ['all'];

const BUILTINS: BuiltinSpec[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, shortNames: ['ns'], status: true, fields: ['status.phase'], columns: [col('Status', (o) => at(o, 'status.phase')), AGE] },
  {
    group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false, shortNames: ['no'], status: true, fields: ['spec.unschedulable'],
    columns: [
      col('Status', (o) => (at(conditionStatus(o, 'Ready'), 'status') === 'True' ? 'Ready' : 'NotReady')),
      col('Roles', () => '<none>'),
      AGE,
      col('Version', (o) => at(o, 'status.nodeInfo.kubeletVersion') ?? ''),
      col('Internal-IP', (o) => orNone(list(o, 'status.addresses').filter((a) => at(a, 'type') === 'InternalIP').map((a) => String(at(a, 'address'))).join(',')), 'string', 1),
    ],
  },
  {
    group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true, shortNames: ['svc'], categories: ALL, status: true, fields: ['spec.clusterIP', 'spec.type'],
    columns: [col('Type', (o) => at(o, 'spec.type')), col('Cluster-IP', (o) => at(o, 'spec.clusterIP') ?? '<none>'), col('External-IP', externalIPs), col('Port(s)', servicePorts), AGE, col('Selector', (o) => selectorText(at(o, 'spec.selector')), 'string', 1)],
  },
  {
    group: '', version: 'v1', kind: 'Endpoints', plural: 'endpoints', namespaced: true, shortNames: ['ep'],
    columns: [col('Endpoints', (o) => orNone(list(o, 'subsets').flatMap((s) => list(s, 'addresses').flatMap((a) => list(s, 'ports').map((p) => `${String(at(a, 'ip'))}:${String(at(p, 'port'))}`))).join(','))), AGE],
  },
  {
    group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true, shortNames: ['po'], categories: ALL, status: true,
    fields: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
    columns: [
      col('Ready', (o) => `${list(o, 'status.containerStatuses').filter((c) => at(c, 'ready') === true).length}/${list(o, 'spec.containers').length}`),
      col('Status', (o) => (o.metadata.deletionTimestamp ? 'Terminating' : (at(o, 'status.phase') ?? 'Pending'))),
      col('Restarts', (o) => list(o, 'status.containerStatuses').reduce((sum: number, c) => sum + count(at(c, 'restartCount')), 0), 'integer'),
      AGE,
      col('IP', (o) => at(o, 'status.podIP') ?? '<none>', 'string', 1),
      col('Node', (o) => at(o, 'spec.nodeName') ?? '<none>', 'string', 1),
    ],
  },
  {
    group: '', version: 'v1', kind: 'Event', plural: 'events', namespaced: true, shortNames: ['ev'],
    fields: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
    columns: [
      col('Last Seen', (o) => ageOf(at(o, 'lastTimestamp') ?? at(o, 'eventTime') ?? o.metadata.creationTimestamp)),
      col('Type', (o) => at(o, 'type')),
      col('Reason', (o) => at(o, 'reason')),
      col('Object', (o) => `${String(at(o, 'involvedObject.kind') ?? '').toLowerCase()}/${String(at(o, 'involvedObject.name') ?? '')}`),
      col('Message', (o) => at(o, 'message')),
    ],
  },
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true, shortNames: ['cm'], columns: [col('Data', (o) => Object.keys(isJsonObject(o.data) ? o.data : {}).length + Object.keys(isJsonObject(o.binaryData) ? o.binaryData : {}).length, 'integer'), AGE] },
  { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true, fields: ['type'], columns: [col('Type', (o) => o.type), col('Data', (o) => Object.keys(isJsonObject(o.data) ? o.data : {}).length, 'integer'), AGE] },
  { group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true, shortNames: ['sa'], columns: [col('Secrets', (o) => list(o, 'secrets').length, 'integer'), AGE] },
  {
    group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true, shortNames: ['deploy'], categories: ALL, status: true,
    columns: [col('Ready', (o) => `${count(at(o, 'status.readyReplicas'))}/${count(at(o, 'spec.replicas') ?? 1)}`), col('Up-to-date', (o) => count(at(o, 'status.updatedReplicas')), 'integer'), col('Available', (o) => count(at(o, 'status.availableReplicas')), 'integer'), AGE],
  },
  {
    group: 'apps', version: 'v1', kind: 'DaemonSet', plural: 'daemonsets', namespaced: true, shortNames: ['ds'], categories: ALL, status: true,
    columns: [
      col('Desired', (o) => count(at(o, 'status.desiredNumberScheduled')), 'integer'),
      col('Current', (o) => count(at(o, 'status.currentNumberScheduled')), 'integer'),
      col('Ready', (o) => count(at(o, 'status.numberReady')), 'integer'),
      col('Up-to-date', (o) => count(at(o, 'status.updatedNumberScheduled')), 'integer'),
      col('Available', (o) => count(at(o, 'status.numberAvailable')), 'integer'),
      col('Node Selector', (o) => selectorText(at(o, 'spec.template.spec.nodeSelector'))),
      AGE,
    ],
  },
  { group: 'apps', version: 'v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true, shortNames: ['rs'], categories: ALL, status: true },
  { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true, columns: [col('Holder', (o) => at(o, 'spec.holderIdentity') ?? ''), AGE] },
  {
    group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true,
    columns: [col('AddressType', (o) => at(o, 'addressType')), col('Ports', (o) => orNone(list(o, 'ports').map((p) => String(at(p, 'port'))).join(','))), col('Endpoints', (o) => orNone(list(o, 'endpoints').flatMap((e) => list(e, 'addresses')).map(String).join(','))), AGE],
  },
  { group: 'events.k8s.io', version: 'v1', kind: 'Event', plural: 'events', namespaced: true, shortNames: ['ev'], storedAs: '/events', fields: ['regarding.kind', 'regarding.namespace', 'regarding.name', 'regarding.uid', 'reason', 'reportingController', 'type'] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', plural: 'roles', namespaced: true, columns: [col('Created At', (o) => o.metadata.creationTimestamp)] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true, columns: [col('Role', (o) => `${String(at(o, 'roleRef.kind'))}/${String(at(o, 'roleRef.name'))}`), AGE] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole', plural: 'clusterroles', namespaced: false, columns: [col('Created At', (o) => o.metadata.creationTimestamp)] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRoleBinding', plural: 'clusterrolebindings', namespaced: false, columns: [col('Role', (o) => `${String(at(o, 'roleRef.kind'))}/${String(at(o, 'roleRef.name'))}`), AGE] },
  // Answered by the HTTP layer from the caller's own permissions; never stored.
  { group: 'authorization.k8s.io', version: 'v1', kind: 'SelfSubjectAccessReview', plural: 'selfsubjectaccessreviews', namespaced: false, verbs: ['create'] },
  { group: 'authorization.k8s.io', version: 'v1', kind: 'SelfSubjectRulesReview', plural: 'selfsubjectrulesreviews', namespaced: false, verbs: ['create'] },
  { group: 'authentication.k8s.io', version: 'v1', kind: 'SelfSubjectReview', plural: 'selfsubjectreviews', namespaced: false, verbs: ['create'] },
  { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'], status: true, columns: [col('Created At', (o) => o.metadata.creationTimestamp)] },
];

export function builtinResources(): ResourceType[] {
  return BUILTINS.map((spec) => ({
    group: spec.group,
    version: spec.version,
    kind: spec.kind,
    listKind: `${spec.kind}List`,
    plural: spec.plural,
    singular: spec.kind.toLowerCase(),
    namespaced: spec.namespaced,
    shortNames: spec.shortNames ?? [],
    categories: spec.categories ?? [],
    verbs: spec.verbs ?? STANDARD_VERBS,
    statusSubresource: spec.status ?? false,
    selectableFields: spec.fields ?? [],
    columns: spec.columns ?? [AGE],
    ...(spec.storedAs !== undefined ? { storedAs: spec.storedAs } : {}),
  }));
}

import { ipVersion } from 'ip-bigint';
import { fieldInvalid, fieldUnsupported, type StatusCause } from './errors.ts';
import { isJsonObject, type KubeObject } from './types.ts';

/**
 * What kube-apiserver's typed decoding and validation do for the built-in kinds
 * this project touches: unknown top-level and metadata fields are dropped (and
 * reported under fieldValidation), and a few fields are checked.
 */

const OBJECT_META_FIELDS = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);

const SPEC_STATUS = ['spec', 'status'];

/** Top-level fields of each built-in kind besides apiVersion, kind and metadata, by storage key. */
const TOP_LEVEL_FIELDS: Record<string, string[]> = {
  '/namespaces': SPEC_STATUS,
  '/nodes': SPEC_STATUS,
  '/services': SPEC_STATUS,
  '/pods': SPEC_STATUS,
  '/endpoints': ['subsets'],
  '/events': ['involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime', 'series', 'action', 'related', 'reportingComponent', 'reportingInstance'],
  '/configmaps': ['data', 'binaryData', 'immutable'],
  '/secrets': ['data', 'stringData', 'type', 'immutable'],
  '/serviceaccounts': ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  'apps/deployments': SPEC_STATUS,
  'apps/daemonsets': SPEC_STATUS,
  'apps/replicasets': SPEC_STATUS,
  'coordination.k8s.io/leases': ['spec'],
  'discovery.k8s.io/endpointslices': ['addressType', 'endpoints', 'ports'],
  'rbac.authorization.k8s.io/roles': ['rules'],
  'rbac.authorization.k8s.io/clusterroles': ['rules', 'aggregationRule'],
  'rbac.authorization.k8s.io/rolebindings': ['subjects', 'roleRef'],
  'rbac.authorization.k8s.io/clusterrolebindings': ['subjects', 'roleRef'],
  'apiextensions.k8s.io/customresourcedefinitions': SPEC_STATUS,
};

/** The top-level fields of a built-in kind (for its OpenAPI schema); undefined for other kinds. */
export function builtinTopLevelFields(storage: string): string[] | undefined {
  return TOP_LEVEL_FIELDS[storage];
}

/** Drops fields the kind does not have; returns their paths. */
export function pruneBuiltinFields(storage: string, object: KubeObject): string[] {
  const known = TOP_LEVEL_FIELDS[storage];
  if (!known) return [];
  const removed: string[] = [];
  for (const key of Object.keys(object)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'metadata' || known.includes(key)) continue;
    delete object[key];
    removed.push(key);
  }
  for (const key of Object.keys(object.metadata)) {
    if (OBJECT_META_FIELDS.has(key)) continue;
    delete object.metadata[key];
    removed.push(`metadata.${key}`);
  }
  return removed;
}

/** Secret.stringData is write-only: kube-apiserver merges it into data as base64. */
function foldStringData(secret: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  if (secret.stringData === undefined) return causes;
  if (!isJsonObject(secret.stringData)) return [fieldInvalid('stringData', secret.stringData, 'must be a map of strings')];
  const data = isJsonObject(secret.data) ? secret.data : {};
  for (const [key, value] of Object.entries(secret.stringData)) {
    if (typeof value !== 'string') causes.push(fieldInvalid(`stringData[${key}]`, value, 'must be a string'));
    else data[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  secret.data = data;
  delete secret.stringData;
  return causes;
}

function checkBase64Map(map: unknown, field: string): StatusCause[] {
  if (map === undefined) return [];
  if (!isJsonObject(map)) return [fieldInvalid(field, map, 'must be a map of base64 strings')];
  return Object.entries(map)
    .filter(([, value]) => typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    .map(([key, value]) => fieldInvalid(`${field}[${key}]`, value, 'must be base64 encoded'));
}

/** Defaults and checks a built-in object; `old` is set on updates. */
export function admitBuiltin(storage: string, object: KubeObject, old: KubeObject | undefined): StatusCause[] {
  switch (storage) {
    case '/secrets': {
      object.type ??= 'Opaque';
      const causes = foldStringData(object);
      return [...causes, ...checkBase64Map(object.data, 'data')];
    }
    case '/configmaps':
      if (old?.immutable === true && JSON.stringify([object.data, object.binaryData]) !== JSON.stringify([old.data, old.binaryData])) {
        return [{ reason: 'FieldValueForbidden', field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' }];
      }
      return [];
    case 'discovery.k8s.io/endpointslices': {
      const types = ['IPv4', 'IPv6', 'FQDN'];
      if (!types.includes(String(object.addressType))) return [fieldUnsupported('addressType', object.addressType ?? null, types)];
      if (old && old.addressType !== object.addressType) return [fieldInvalid('addressType', object.addressType, 'field is immutable')];
      return [];
    }
    case 'rbac.authorization.k8s.io/rolebindings':
    case 'rbac.authorization.k8s.io/clusterrolebindings': {
      const ref = object.roleRef;
      if (!isJsonObject(ref) || typeof ref.name !== 'string' || ref.name === '' || (ref.kind !== 'Role' && ref.kind !== 'ClusterRole')) {
        return [fieldInvalid('roleRef', ref ?? null, 'must name a Role or ClusterRole')];
      }
      if (storage.endsWith('clusterrolebindings') && ref.kind !== 'ClusterRole') return [fieldUnsupported('roleRef.kind', ref.kind, ['ClusterRole'])];
      if (old && JSON.stringify(old.roleRef) !== JSON.stringify(ref)) return [fieldInvalid('roleRef', ref, 'cannot change roleRef')];
      return [];
    }
    default:
      return [];
  }
}

/** Checks a status write of a built-in kind. */
export function admitBuiltinStatus(storage: string, object: KubeObject): StatusCause[] {
  if (storage !== '/services') return [];
  const status = isJsonObject(object.status) ? object.status : {};
  const loadBalancer = isJsonObject(status.loadBalancer) ? status.loadBalancer : {};
  const ingress = Array.isArray(loadBalancer.ingress) ? loadBalancer.ingress : [];
  const causes: StatusCause[] = [];
  ingress.forEach((entry, i) => {
    const field = `status.loadBalancer.ingress[${i}]`;
    if (!isJsonObject(entry)) causes.push(fieldInvalid(field, entry, 'must be an object'));
    else if (entry.ip !== undefined && (typeof entry.ip !== 'string' || ipVersion(entry.ip) === 0)) causes.push(fieldInvalid(`${field}.ip`, entry.ip, 'must be a valid IP address'));
    else if (entry.ipMode !== undefined && entry.ipMode !== 'VIP' && entry.ipMode !== 'Proxy') causes.push(fieldUnsupported(`${field}.ipMode`, entry.ipMode, ['VIP', 'Proxy']));
  });
  return causes;
}

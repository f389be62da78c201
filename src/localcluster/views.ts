import { createHash } from 'node:crypto';
import { builtinTopLevelFields } from './builtins.ts';
import { apiVersionOf, storageKey, type ResourceRegistry, type ResourceType } from './registry.ts';
import type { JsonObject, KubeObject } from './types.ts';

/**
 * Read-only documents derived from the registry: discovery lists, `Table`
 * responses with printer columns, and the OpenAPI v3 documents kubectl reads
 * to learn that the server validates fields itself (`fieldValidation`).
 */

export const SERVER_VERSION = { major: '1', minor: '35', gitVersion: 'v1.35.0-anchorlb', gitCommit: 'anchorlb', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.25', compiler: 'gc', platform: 'linux/amd64', emulationMajor: '1', emulationMinor: '35', minCompatibilityMajor: '1', minCompatibilityMinor: '34' };

export function apiVersions(): JsonObject {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] };
}

function apiGroup(name: string, versions: string[]): JsonObject {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: entries, preferredVersion: entries[0] };
}

export function apiGroupList(registry: ResourceRegistry): JsonObject {
  const groups = [...registry.groupVersions()].filter(([group]) => group !== '').map(([group, versions]) => apiGroup(group, versions));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroupDocument(registry: ResourceRegistry, group: string): JsonObject | undefined {
  const versions = registry.groupVersions().get(group);
  return versions ? apiGroup(group, versions) : undefined;
}

export function apiResourceList(registry: ResourceRegistry, group: string, version: string): JsonObject | undefined {
  const resources = registry.inGroupVersion(group, version);
  if (resources.length === 0) return undefined;
  const entries: JsonObject[] = [];
  for (const r of resources) {
    entries.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length > 0 ? { categories: r.categories } : {}),
      storageVersionHash: createHash('sha256').update(`${r.group}/${r.version}/${r.kind}`).digest('base64').slice(0, 11),
    });
    if (r.statusSubresource) entries.push({ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] });
    if (r.group === 'apps' && (r.plural === 'deployments' || r.plural === 'replicasets')) {
      entries.push({ name: `${r.plural}/scale`, singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    }
    if (r.group === '' && r.plural === 'serviceaccounts') {
      entries.push({ name: 'serviceaccounts/token', singularName: '', namespaced: true, group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group === '' ? version : `${group}/${version}`, resources: entries };
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function toTable(resource: ResourceType, objects: KubeObject[], listMeta: JsonObject, include: IncludeObject): JsonObject {
  const columnDefinitions = [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    ...resource.columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority })),
  ];
  const rows = objects.map((object) => ({
    cells: [object.metadata.name ?? '', ...resource.columns.map((c) => c.value(object) ?? null)],
    ...(include === 'None'
      ? {}
      : { object: include === 'Object' ? object : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata } }),
  }));
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta, columnDefinitions, rows };
}

/** `/openapi/v3`: one entry per group/version, each pointing at its document. */
export function openApiIndex(registry: ResourceRegistry): JsonObject {
  const paths: JsonObject = {};
  for (const [group, versions] of registry.groupVersions()) {
    for (const version of versions) {
      const path = group === '' ? `api/${version}` : `apis/${group}/${version}`;
      const hash = createHash('sha256').update(JSON.stringify(registry.inGroupVersion(group, version).map((r) => [r.plural, r.kind, r.crdName]))).digest('hex').slice(0, 32);
      paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash.toUpperCase()}` };
    }
  }
  return { paths };
}

/** OpenAPI definition names as kube-apiserver spells them: io.k8s.api.core.v1.Service, io.anchorlb.v1beta1.IPAddressPool. */
export function schemaName(resource: ResourceType): string {
  let prefix: string;
  if (resource.crdName) prefix = resource.group.split('.').reverse().join('.');
  else if (resource.group === '') prefix = 'io.k8s.api.core';
  else if (resource.group === 'apiextensions.k8s.io') prefix = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions';
  else prefix = `io.k8s.api.${resource.group.split('.')[0] ?? resource.group}`;
  return `${prefix}.${resource.version}.${resource.kind}`;
}

/** A definition for a kind: the CRD's schema, or an open schema of a built-in kind's top-level fields. */
function definition(r: ResourceType, customSchema: JsonObject | undefined): JsonObject {
  if (customSchema) return customSchema;
  const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const properties: JsonObject = { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } };
  for (const field of builtinTopLevelFields(storageKey(r)) ?? ['spec', 'status']) properties[field] = open;
  return { type: 'object', description: `${r.kind} (${apiVersionOf(r)})`, properties };
}

const QUERY_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation', 'pretty'].map((name) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } }));

/**
 * One group/version's document. Every patch operation carries its GVK and the
 * `fieldValidation` parameter, which is how kubectl decides to let the server validate.
 * Custom resource schemas carry their GVK. Built-in schemas are open and carry none,
 * so kubectl computes strategic merge patches from its own compiled-in types.
 */
export function openApiDocument(registry: ResourceRegistry, group: string, version: string, customSchema: (r: ResourceType) => JsonObject | undefined): JsonObject | undefined {
  const resources = registry.inGroupVersion(group, version);
  if (resources.length === 0) return undefined;
  const paths: JsonObject = {};
  const schemas: JsonObject = {};
  const prefix = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  for (const r of resources) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const ref = { $ref: `#/components/schemas/${schemaName(r)}` };
    const body = { content: { 'application/json': { schema: ref } } };
    const ok = { responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } } };
    const operation = (action: string, extra: JsonObject = {}): JsonObject => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, parameters: QUERY_PARAMS, ...ok, ...extra });
    const itemPath = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}/{name}` : `${prefix}/${r.plural}/{name}`;
    const listPath = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}` : `${prefix}/${r.plural}`;
    const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', ...(r.crdName ? [] : ['application/strategic-merge-patch+json']), 'application/apply-patch+yaml'];
    const patchBody = { content: Object.fromEntries(patchTypes.map((t) => [t, { schema: { type: 'object' } }])) };
    paths[itemPath] = { get: operation('get'), put: operation('put', { requestBody: body }), patch: operation('patch', { requestBody: patchBody }), delete: operation('delete') };
    paths[listPath] = { get: operation('list'), post: operation('post', { requestBody: body }) };
    if (r.statusSubresource) paths[`${itemPath}/status`] = { get: operation('get'), put: operation('put', { requestBody: body }), patch: operation('patch', { requestBody: patchBody }) };
    const custom = customSchema(r);
    schemas[schemaName(r)] = custom ? { ...custom, 'x-kubernetes-group-version-kind': [gvk] } : definition(r, undefined);
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion }, paths, components: { schemas } };
}

/** `/openapi/v2`: one Swagger 2.0 document with a definition per kind, each naming its GVK. */
export function openApiV2(registry: ResourceRegistry, customSchema: (r: ResourceType) => JsonObject | undefined): JsonObject {
  const definitions: JsonObject = {};
  for (const r of registry.all()) {
    const name = schemaName(r);
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const existing = definitions[name];
    const kinds = existing !== undefined && typeof existing === 'object' && existing !== null && Array.isArray((existing as JsonObject)['x-kubernetes-group-version-kind']) ? ((existing as JsonObject)['x-kubernetes-group-version-kind'] as unknown[]) : [];
    definitions[name] = { ...definition(r, customSchema(r)), 'x-kubernetes-group-version-kind': [...kinds, gvk] };
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion }, paths: {}, definitions };
}

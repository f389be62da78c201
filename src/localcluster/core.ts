import { randomUUID } from 'node:crypto';
import { ApiError, alreadyExists, badRequest, conflict, fieldInvalid, fieldRequired, forbidden, invalid, notFound, type StatusCause } from './errors.ts';
import { ResourceRegistry, ageOf, apiVersionOf, builtinResources, storageKey, type PrinterColumn, type ResourceType } from './registry.ts';
import { SchemaCompiler, applyDefaults, pruneUnknownFields, type SchemaValidator } from './schema.ts';
import { ruleProblems, validateRules } from './cel.ts';
import { DEFAULT_SERVICE_NETWORK, ServiceAllocationIndex, admitService } from './services.ts';
import { ObjectStore, objectKey } from './store.ts';
import { structuralSchemaCauses } from './structural.ts';
import { admitBuiltin, admitBuiltinStatus, pruneBuiltinFields } from './builtins.ts';
import { eventFromCore, eventToCore } from './conversion.ts';
import { parseJsonPath, evaluateJsonPath } from './jsonpath.ts';
import { cloneJson, isJsonObject, type JsonObject, type KubeObject } from './types.ts';
import { createLogger } from '../common/log.ts';

const log = createLogger('local-apiserver');

/**
 * The API server's object semantics, independent of HTTP: admission (names,
 * defaults, validation, custom resource schemas, Services), resourceVersion
 * preconditions, status subresources, generation, finalizers, deletion with
 * garbage collection by ownerReferences, namespace termination, and CRDs
 * registering their resources at runtime.
 */

export type PropagationPolicy = 'Orphan' | 'Background' | 'Foreground';

export interface WriteOptions {
  dryRun?: boolean;
  /** `Strict` rejects unknown fields, `Warn` reports them, `Ignore` drops them silently. */
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  /** Collected warnings (unknown fields under `Warn`). */
  warnings?: string[];
  /** Called with the final object (and the stored one it replaces) before it is stored (the HTTP layer's RBAC escalation check). */
  beforeStore?: (resource: ResourceType, object: KubeObject, old: KubeObject | undefined) => void;
}

export interface DeleteOptions extends WriteOptions {
  propagationPolicy?: PropagationPolicy;
  preconditions?: { uid?: string; resourceVersion?: string };
}

interface CustomVersion {
  schema?: JsonObject;
  validate?: SchemaValidator;
}

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** Kinds whose status a create request may not set (kube-apiserver resets it). */
const STATUS_RESET_ON_CREATE = new Set(['/services', 'apps/deployments', 'apps/daemonsets', 'apps/replicasets', 'apiextensions.k8s.io/customresourcedefinitions']);
/** Kinds whose metadata.generation counts spec changes (workloads, CRDs, custom resources). */
const GENERATION_TRACKED = new Set(['apps/deployments', 'apps/daemonsets', 'apps/replicasets', 'apiextensions.k8s.io/customresourcedefinitions']);
const INITIAL_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function randomSuffix(): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
  return suffix;
}

/** Everything but metadata and status: what `generation` counts changes of. */
function specPart(object: KubeObject): string {
  const { metadata: _metadata, status: _status, ...rest } = object;
  return JSON.stringify(rest);
}

function serviceKey(service: KubeObject): string {
  return objectKey(service.metadata.namespace, service.metadata.name ?? '');
}

function withoutVersion(object: KubeObject): string {
  return JSON.stringify({ ...object, metadata: { ...object.metadata, resourceVersion: undefined } });
}

export class ApiCore {
  readonly registry = new ResourceRegistry();
  readonly store: ObjectStore;
  private readonly compiler = new SchemaCompiler();
  private readonly customVersions = new Map<string, CustomVersion>();
  private gcScheduled = false;
  /** What stored Services hold, following every Service write (admission must not scan the table). */
  private readonly serviceAllocations = new ServiceAllocationIndex();

  constructor(options: { historyLimit?: number; store?: ObjectStore } = {}) {
    this.store = options.store ?? new ObjectStore(options.historyLimit);
    this.store.subscribe((change) => {
      if (change.resource !== '/services') return;
      this.serviceAllocations.set(serviceKey(change.object), change.type === 'DELETED' ? undefined : change.object);
    });
    for (const resource of builtinResources()) this.registry.add(resource);
    this.bootstrap();
  }

  /**
   * Re-creates what a fresh server has (namespaces, the kubernetes Service), re-registers stored CRDs
   * and re-reads what stored Services hold: call it after replacing the store's content (`restore`).
   */
  bootstrap(): void {
    this.serviceAllocations.reset(this.store.list('/services').map((service) => ({ key: serviceKey(service), service })));
    for (const namespace of INITIAL_NAMESPACES) {
      if (!this.store.get('/namespaces', undefined, namespace)) this.create(this.resource('', 'v1', 'namespaces'), undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    }
    if (!this.store.get('/services', 'default', 'kubernetes')) {
      this.create(this.resource('', 'v1', 'services'), 'default', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
        spec: { ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
      });
    }
    for (const crd of this.store.list(storageKey({ group: 'apiextensions.k8s.io', plural: 'customresourcedefinitions' }))) this.registerCrd(crd);
    this.store.compact();
  }

  resource(group: string, version: string, plural: string): ResourceType {
    const resource = this.registry.find(group, version, plural);
    if (!resource) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural}${group ? `.${group}` : ''} ${version})`);
    return resource;
  }

  get(resource: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const object = this.store.get(storageKey(resource), this.scope(resource, namespace), name);
    if (!object) throw notFound(resource, name);
    return this.present(resource, object);
  }

  /** Objects as served in `resource`'s version (custom resources store one apiVersion for all). */
  present(resource: ResourceType, object: KubeObject): KubeObject {
    const copy = cloneJson(object);
    copy.apiVersion = apiVersionOf(resource);
    copy.kind = resource.kind;
    return resource.group === 'events.k8s.io' ? eventFromCore(copy) : copy;
  }

  list(resource: ResourceType, namespace: string | undefined): KubeObject[] {
    return this.store.list(storageKey(resource), resource.namespaced ? namespace : undefined);
  }

  create(resource: ResourceType, namespace: string | undefined, body: unknown, options: WriteOptions = {}): KubeObject {
    const object = this.toStorage(resource, this.checkBody(resource, namespace, body));
    const meta = object.metadata;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (!meta.name) throw invalid(resource, '', [{ ...fieldRequired('metadata.name'), message: 'Required value: name or generateName is required' }]);
    const name = meta.name;
    this.checkNamespaceOpen(resource, meta.namespace);
    if (this.store.get(storageKey(resource), meta.namespace, name)) throw alreadyExists(resource, name);
    for (const key of ['uid', 'resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']) delete meta[key];
    meta.uid = randomUUID();
    meta.creationTimestamp = now();
    if (STATUS_RESET_ON_CREATE.has(storageKey(resource)) || resource.crdName) delete object.status;
    if (GENERATION_TRACKED.has(storageKey(resource)) || resource.crdName) meta.generation = 1;
    else delete meta.generation;
    this.admit(resource, object, undefined, options);
    if (options.dryRun) return this.present(resource, object);
    const stored = this.store.put(storageKey(resource), object);
    this.afterWrite(resource, stored);
    return this.present(resource, stored);
  }

  /** Objects are stored in their storage form (events.k8s.io events as core events). */
  private toStorage(resource: ResourceType, object: KubeObject): KubeObject {
    return resource.group === 'events.k8s.io' ? eventToCore(object) : object;
  }

  /** PUT: whole-object replace of the main resource or of its status. */
  update(resource: ResourceType, namespace: string | undefined, name: string, body: unknown, subresource: string | undefined, options: WriteOptions = {}): KubeObject {
    const object = this.checkBody(resource, namespace, body);
    if (object.metadata.name !== undefined && object.metadata.name !== name) {
      throw badRequest(`the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`);
    }
    object.metadata.name = name;
    const existing = this.store.get(storageKey(resource), this.scope(resource, namespace), name);
    if (!existing) throw notFound(resource, name);
    const wantedVersion = object.metadata.resourceVersion;
    if (wantedVersion !== undefined && wantedVersion !== '' && wantedVersion !== existing.metadata.resourceVersion) throw conflict(resource, name);
    if (object.metadata.uid !== undefined && object.metadata.uid !== existing.metadata.uid) {
      throw conflict(resource, name, `Precondition failed: UID in precondition: ${String(object.metadata.uid)}, UID in object meta: ${String(existing.metadata.uid)}`);
    }
    return this.replace(resource, existing, object, subresource, options);
  }

  /** Writes `object` over `existing` with the rules of the main resource or the status subresource. */
  replace(resource: ResourceType, existing: KubeObject, requested: KubeObject, subresource: string | undefined, options: WriteOptions = {}): KubeObject {
    const name = existing.metadata.name ?? '';
    const incoming = this.toStorage(resource, requested);
    let object: KubeObject;
    if (subresource === 'status') {
      if (!resource.statusSubresource) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${resource.plural} ${name}/status)`);
      // A status write changes status only.
      object = { ...cloneJson(existing), status: cloneJson(incoming.status) };
      if (incoming.status === undefined) delete object.status;
    } else if (subresource !== undefined) {
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${resource.plural} ${name}/${subresource})`);
    } else {
      object = incoming;
      if (resource.statusSubresource) {
        if (existing.status === undefined) delete object.status;
        else object.status = cloneJson(existing.status);
      }
    }
    const meta = object.metadata;
    const kept: JsonObject = meta;
    for (const key of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'namespace', 'generation']) {
      if (existing.metadata[key] === undefined) delete kept[key];
      else kept[key] = existing.metadata[key];
    }
    if (existing.metadata.deletionTimestamp) {
      const before = new Set(existing.metadata.finalizers ?? []);
      const added = (meta.finalizers ?? []).filter((f) => !before.has(f));
      if (added.length > 0) {
        throw invalid(resource, name, [{ reason: 'FieldValueForbidden', field: 'metadata.finalizers', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` }]);
      }
    }
    if (meta.generation !== undefined && specPart(object) !== specPart(existing)) meta.generation += 1;
    if (subresource !== 'status') this.admit(resource, object, existing, options);
    else {
      const causes = admitBuiltinStatus(storageKey(resource), object);
      if (causes.length > 0) throw invalid(resource, name, causes);
    }
    if (withoutVersion(object) === withoutVersion(existing)) return this.present(resource, existing);
    if (options.dryRun) return this.present(resource, object);
    if (meta.deletionTimestamp && (meta.finalizers ?? []).length === 0) {
      const removed = this.store.remove(storageKey(resource), existing.metadata.namespace, name);
      this.afterRemove(resource, removed);
      return this.present(resource, removed ?? object);
    }
    const stored = this.store.put(storageKey(resource), object);
    this.afterWrite(resource, stored);
    return this.present(resource, stored);
  }

  delete(resource: ResourceType, namespace: string | undefined, name: string, options: DeleteOptions = {}): KubeObject {
    const key = storageKey(resource);
    const scope = this.scope(resource, namespace);
    const existing = this.store.get(key, scope, name);
    if (!existing) throw notFound(resource, name);
    const pre = options.preconditions;
    if (pre?.uid !== undefined && pre.uid !== existing.metadata.uid) {
      throw conflict(resource, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(existing.metadata.uid)}`);
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(resource, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(existing.metadata.resourceVersion)}`);
    }
    if (options.dryRun) return this.present(resource, existing);
    const policy = options.propagationPolicy ?? 'Background';
    const finalizers = [...(existing.metadata.finalizers ?? [])];
    if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    if (policy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
    if (key === '/namespaces') {
      if (existing.metadata.deletionTimestamp) return this.present(resource, existing);
      const terminating = cloneJson(existing);
      terminating.metadata.deletionTimestamp = now();
      terminating.metadata.finalizers = finalizers;
      terminating.spec = { finalizers: ['kubernetes'] };
      terminating.status = { phase: 'Terminating' };
      const stored = this.store.put(key, terminating);
      this.scheduleGc();
      return this.present(resource, stored);
    }
    if (finalizers.length > 0) {
      const marked = cloneJson(existing);
      marked.metadata.deletionTimestamp ??= now();
      marked.metadata.deletionGracePeriodSeconds ??= 0;
      marked.metadata.finalizers = finalizers;
      const stored = withoutVersion(marked) === withoutVersion(existing) ? existing : this.store.put(key, marked);
      this.scheduleGc();
      return this.present(resource, stored);
    }
    // A CRD's objects go first (their watchers see them deleted), then the CRD and its resource.
    if (key === 'apiextensions.k8s.io/customresourcedefinitions') this.removeCustomObjects(existing);
    const removed = this.store.remove(key, scope, name);
    this.afterRemove(resource, removed);
    return this.present(resource, removed ?? existing);
  }

  /** Sweeps until nothing changes: orphans, foreground deletions, orphan finalizers, terminating namespaces. */
  collectGarbage(): void {
    let changed = true;
    while (changed) {
      changed = false;
      const all: { resource: ResourceType; object: KubeObject }[] = [];
      const types = new Map<string, ResourceType>();
      for (const r of this.registry.all()) if (!types.has(storageKey(r))) types.set(storageKey(r), r);
      for (const key of this.store.resources()) {
        const resource = types.get(key);
        if (resource) for (const object of this.store.list(key)) all.push({ resource, object });
      }
      const dependents = new Map<string, { resource: ResourceType; object: KubeObject }[]>();
      for (const entry of all) {
        for (const owner of entry.object.metadata.ownerReferences ?? []) {
          const list = dependents.get(owner.uid) ?? [];
          list.push(entry);
          dependents.set(owner.uid, list);
        }
      }
      for (const entry of all) {
        try {
          changed = this.collectOne(entry.resource, entry.object, dependents) || changed;
        } catch (error) {
          // One object the collector cannot handle must not stop it (or the server).
          log.error({ err: error, resource: storageKey(entry.resource), name: entry.object.metadata.name }, 'garbage collection step failed');
        }
      }
    }
  }

  /** One garbage-collection step for one object; true if it changed anything. */
  private collectOne(resource: ResourceType, object: KubeObject, dependents: Map<string, { resource: ResourceType; object: KubeObject }[]>): boolean {
    const meta = object.metadata;
    const name = meta.name ?? '';
    const current = this.store.get(storageKey(resource), meta.namespace, name);
    if (!current || current.metadata.resourceVersion !== meta.resourceVersion) return false;
    const owners = meta.ownerReferences ?? [];
    if (owners.length > 0 && !meta.deletionTimestamp && owners.every((o) => !this.store.locate(o.uid))) {
      this.delete(resource, meta.namespace, name, { propagationPolicy: 'Background' });
      return true;
    }
    if (!meta.deletionTimestamp) return false;
    const mine = (dependents.get(meta.uid ?? '') ?? []).filter((d) => this.store.locate(d.object.metadata.uid ?? ''));
    const finalizers = meta.finalizers ?? [];
    if (finalizers.includes('orphan')) {
      for (const dependent of mine) this.dropOwner(dependent.resource, dependent.object, meta.uid ?? '');
      this.removeFinalizer(resource, current, 'orphan');
      return true;
    }
    if (finalizers.includes('foregroundDeletion')) {
      let changed = false;
      const blocking = mine.filter((d) => d.object.metadata.ownerReferences?.some((o) => o.uid === meta.uid && o.blockOwnerDeletion === true));
      for (const dependent of mine) {
        if (!dependent.object.metadata.deletionTimestamp) {
          this.delete(dependent.resource, dependent.object.metadata.namespace, dependent.object.metadata.name ?? '', { propagationPolicy: 'Foreground' });
          changed = true;
        }
      }
      if (blocking.length === 0) {
        this.removeFinalizer(resource, current, 'foregroundDeletion');
        changed = true;
      }
      return changed;
    }
    return storageKey(resource) === '/namespaces' ? this.finishNamespace(current) : false;
  }

  /** Deletes a terminating namespace's content, then the namespace once nothing is left; true if anything changed. */
  private finishNamespace(namespace: KubeObject): boolean {
    const name = namespace.metadata.name ?? '';
    let remaining = 0;
    let progressed = false;
    const seen = new Set<string>();
    for (const resource of this.registry.all()) {
      if (!resource.namespaced || seen.has(storageKey(resource))) continue;
      seen.add(storageKey(resource));
      for (const object of this.store.list(storageKey(resource), name)) {
        if (object.metadata.deletionTimestamp) {
          remaining++;
          continue;
        }
        const left = this.delete(resource, name, object.metadata.name ?? '', { propagationPolicy: 'Background' });
        progressed = true;
        if (this.store.get(storageKey(resource), name, left.metadata.name ?? '')) remaining++;
      }
    }
    if (remaining > 0) return progressed;
    return this.store.remove('/namespaces', undefined, name) !== undefined;
  }

  private dropOwner(resource: ResourceType, object: KubeObject, ownerUid: string): void {
    const current = this.store.get(storageKey(resource), object.metadata.namespace, object.metadata.name ?? '');
    if (!current) return;
    const updated = cloneJson(current);
    updated.metadata.ownerReferences = (updated.metadata.ownerReferences ?? []).filter((o) => o.uid !== ownerUid);
    if (updated.metadata.ownerReferences.length === 0) delete updated.metadata.ownerReferences;
    this.store.put(storageKey(resource), updated);
  }

  /** The collector's own finalizer removal: metadata only, so no admission can refuse it. */
  private removeFinalizer(resource: ResourceType, object: KubeObject, finalizer: string): void {
    const updated = cloneJson(object);
    updated.metadata.finalizers = (updated.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (updated.metadata.deletionTimestamp && updated.metadata.finalizers.length === 0) {
      this.afterRemove(resource, this.store.remove(storageKey(resource), object.metadata.namespace, object.metadata.name ?? ''));
    } else this.store.put(storageKey(resource), updated);
  }

  private scheduleGc(): void {
    if (this.gcScheduled) return;
    this.gcScheduled = true;
    setImmediate(() => {
      this.gcScheduled = false;
      this.collectGarbage();
    });
  }

  private scope(resource: ResourceType, namespace: string | undefined): string | undefined {
    return resource.namespaced ? namespace : undefined;
  }

  /** Checks kind, apiVersion, namespace and metadata of a request body; returns a private copy. */
  private checkBody(resource: ResourceType, namespace: string | undefined, body: unknown): KubeObject {
    if (!isJsonObject(body)) throw badRequest('the request body must be a JSON object');
    const object = cloneJson(body) as KubeObject;
    const expectedVersion = apiVersionOf(resource);
    if (object.apiVersion !== undefined && object.apiVersion !== expectedVersion) {
      // Custom resources may be written through any served version.
      const sameGroup = resource.crdName && typeof object.apiVersion === 'string' && object.apiVersion.startsWith(`${resource.group}/`);
      if (!sameGroup) throw badRequest(`the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${expectedVersion})`);
    }
    if (object.kind !== undefined && object.kind !== resource.kind) {
      throw badRequest(`the kind in the data (${String(object.kind)}) does not match the expected kind (${resource.kind})`);
    }
    object.apiVersion = expectedVersion;
    object.kind = resource.kind;
    if (object.metadata === undefined) object.metadata = {};
    if (!isJsonObject(object.metadata)) throw badRequest('metadata must be an object');
    const meta = object.metadata;
    if (resource.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && namespace !== undefined && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace ?? meta.namespace;
      if (!meta.namespace) throw badRequest('a namespace is required for namespaced resources');
    } else delete meta.namespace;
    return object;
  }

  private checkNamespaceOpen(resource: ResourceType, namespace: string | undefined): void {
    if (!resource.namespaced || namespace === undefined) return;
    const ns = this.store.get('/namespaces', undefined, namespace);
    if (!ns) throw notFound({ group: '', plural: 'namespaces', kind: 'Namespace' }, namespace);
    if (ns.metadata.deletionTimestamp) {
      throw forbidden(`${resource.plural} "${String(namespace)}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, resource);
    }
  }

  private admit(resource: ResourceType, object: KubeObject, old: KubeObject | undefined, options: WriteOptions): void {
    const name = object.metadata.name ?? '';
    const causes: StatusCause[] = [...this.metadataCauses(resource, object)];
    const key = storageKey(resource);
    this.reportUnknownFields(resource, pruneBuiltinFields(key, object), options);
    causes.push(...admitBuiltin(key, object, old));
    if (key === '/namespaces') {
      object.spec = { finalizers: ['kubernetes'], ...(isJsonObject(object.spec) ? object.spec : {}) };
      object.status = old?.status ?? { phase: 'Active' };
    } else if (key === '/services') {
      causes.push(...admitService(object, old, this.serviceAllocations.others(serviceKey(object)), DEFAULT_SERVICE_NETWORK));
    } else if (key === 'apiextensions.k8s.io/customresourcedefinitions') {
      causes.push(...this.admitCrd(object, old));
    } else if (resource.crdName) {
      causes.push(...this.admitCustom(resource, object, old, options));
    }
    if (causes.length > 0) throw invalid(resource, name, causes);
    options.beforeStore?.(resource, object, old);
  }

  private metadataCauses(resource: ResourceType, object: KubeObject): StatusCause[] {
    const meta = object.metadata;
    const name = meta.name ?? '';
    const causes: StatusCause[] = [];
    const key = storageKey(resource);
    const [pattern, what] = key === '/namespaces' ? [DNS_LABEL, 'RFC 1123 label'] : key === '/services' ? [DNS_1035_LABEL, 'RFC 1035 label'] : [DNS_SUBDOMAIN, 'RFC 1123 subdomain'];
    const limit = pattern === DNS_SUBDOMAIN ? 253 : 63;
    // Custom and RBAC resource names are path segments: kube-apiserver only forbids '/' and '%' there.
    const loose = resource.crdName !== undefined || resource.group === 'rbac.authorization.k8s.io';
    if (loose ? /[/%]/.test(name) || name === '.' || name === '..' : !pattern.test(name) || name.length > limit) {
      causes.push(fieldInvalid('metadata.name', name, `a lowercase ${what} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`));
    }
    for (const [field, map] of [['metadata.labels', meta.labels], ['metadata.annotations', meta.annotations]] as const) {
      if (map === undefined) continue;
      if (!isJsonObject(map)) causes.push(fieldInvalid(field, map, 'must be a map of string keys to string values'));
      else for (const [k, v] of Object.entries(map)) if (typeof v !== 'string') causes.push(fieldInvalid(`${field}[${k}]`, v, 'must be a string'));
    }
    if (meta.labels && isJsonObject(meta.labels)) {
      for (const [k, v] of Object.entries(meta.labels)) {
        if (typeof v === 'string' && (v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v))) {
          causes.push(fieldInvalid('metadata.labels', v, `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (label ${k})`));
        }
      }
    }
    if (meta.finalizers !== undefined && (!Array.isArray(meta.finalizers) || meta.finalizers.some((f) => typeof f !== 'string'))) {
      causes.push(fieldInvalid('metadata.finalizers', meta.finalizers, 'must be a list of strings'));
    }
    (meta.ownerReferences ?? []).forEach((owner, i) => {
      if (!isJsonObject(owner) || !owner.uid || !owner.name || !owner.kind || !owner.apiVersion) {
        causes.push(fieldInvalid(`metadata.ownerReferences[${i}]`, owner, 'apiVersion, kind, name and uid are required'));
      }
    });
    return causes;
  }

  private admitCustom(resource: ResourceType, object: KubeObject, old: KubeObject | undefined, options: WriteOptions): StatusCause[] {
    const custom = this.customVersions.get(`${resource.group}/${resource.version}/${resource.plural}`);
    if (!custom?.schema || !custom.validate) return [];
    this.reportUnknownFields(resource, pruneUnknownFields(object, custom.schema), options);
    applyDefaults(object, custom.schema);
    const causes = custom.validate(object);
    // As kube-apiserver: validation rules run only on an object the schema accepts.
    return causes.length > 0 ? causes : validateRules(custom.schema, object, old);
  }

  /** Unknown fields were dropped; `Strict` refuses the request instead, `Warn` (the default) says so. */
  private reportUnknownFields(resource: ResourceType, unknown: string[], options: WriteOptions): void {
    if (unknown.length === 0) return;
    if (options.fieldValidation === 'Strict') {
      throw badRequest(`${resource.kind} in version "${resource.version}" cannot be handled as a ${resource.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`);
    }
    if (options.fieldValidation !== 'Ignore') options.warnings?.push(...unknown.map((u) => `unknown field "${u}"`));
  }

  /** Validates a CRD and fills in its status as kube-apiserver's controllers would. */
  private admitCrd(crd: KubeObject, old: KubeObject | undefined): StatusCause[] {
    const spec = isJsonObject(crd.spec) ? crd.spec : undefined;
    if (!spec) return [fieldRequired('spec')];
    const causes: StatusCause[] = [];
    const names = isJsonObject(spec.names) ? spec.names : {};
    const group = spec.group;
    if (typeof group !== 'string' || !group.includes('.')) causes.push(fieldInvalid('spec.group', group ?? null, 'should be a domain with at least one dot'));
    if (typeof names.plural !== 'string' || !DNS_LABEL.test(names.plural)) causes.push(fieldInvalid('spec.names.plural', names.plural ?? null, 'a lowercase RFC 1123 label is required'));
    if (typeof names.kind !== 'string' || names.kind === '') causes.push(fieldRequired('spec.names.kind'));
    if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') causes.push(fieldInvalid('spec.scope', spec.scope ?? null, 'must be "Namespaced" or "Cluster"'));
    if (typeof names.plural === 'string' && typeof group === 'string' && crd.metadata.name !== `${names.plural}.${group}`) {
      causes.push(fieldInvalid('metadata.name', crd.metadata.name, `must be spec.names.plural+"."+spec.group`));
    }
    if (old && isJsonObject(old.spec) && old.spec.group !== group) causes.push(fieldInvalid('spec.group', group, 'field is immutable'));
    const versions = Array.isArray(spec.versions) ? spec.versions.filter(isJsonObject) : [];
    if (versions.length === 0) causes.push(fieldRequired('spec.versions'));
    if (versions.filter((v) => v.storage === true).length !== 1) causes.push(fieldInvalid('spec.versions', versions.map((v) => v.name), 'must have exactly one version marked as storage version'));
    // kube-apiserver names one schema shared by every version spec.validation (its internal form).
    const schemas = versions.map((version) => (isJsonObject(version.schema) ? version.schema.openAPIV3Schema : undefined));
    const shared = schemas.every((schema) => JSON.stringify(schema) === JSON.stringify(schemas[0]));
    versions.forEach((version, i) => {
      const schema = schemas[i];
      if (schema === undefined) return;
      if (!isJsonObject(schema)) causes.push(fieldInvalid(`spec.versions[${i}].schema.openAPIV3Schema`, schema, 'must be an object'));
      else if (!shared || i === 0) {
        const structural = structuralSchemaCauses(schema, shared ? 'spec.validation.openAPIV3Schema' : `spec.versions[${i}].schema.openAPIV3Schema`);
        causes.push(...structural);
        if (structural.length === 0) {
          try {
            this.compiler.compile(schema);
          } catch (error) {
            causes.push(fieldInvalid(`spec.versions[${i}].schema.openAPIV3Schema`, '...', (error as Error).message));
          }
        }
        for (const problem of ruleProblems(schema)) causes.push(fieldInvalid(`spec.versions[${i}].schema.openAPIV3Schema.${problem.split(': ')[0]}`, '...', problem.slice(problem.indexOf(': ') + 2)));
      }
      for (const [j, column] of (Array.isArray(version.additionalPrinterColumns) ? version.additionalPrinterColumns : []).entries()) {
        const path = isJsonObject(column) ? column.jsonPath : undefined;
        try {
          parseJsonPath(String(path));
        } catch (error) {
          causes.push(fieldInvalid(`spec.versions[${i}].additionalPrinterColumns[${j}].jsonPath`, path ?? null, (error as Error).message));
        }
      }
    });
    if (causes.length > 0) return causes;
    const oldStored = isJsonObject(old?.status) && Array.isArray(old.status.storedVersions) ? old.status.storedVersions.map(String) : [];
    const storage = String(versions.find((v) => v.storage === true)?.name);
    const lastTransitionTime = now();
    crd.status = {
      acceptedNames: { ...names, singular: names.singular ?? String(names.kind).toLowerCase(), listKind: names.listKind ?? `${String(names.kind)}List` },
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime },
      ],
      storedVersions: oldStored.includes(storage) ? oldStored : [...oldStored, storage],
    };
    return [];
  }

  private afterWrite(resource: ResourceType, stored: KubeObject): void {
    const key = storageKey(resource);
    if (key === 'apiextensions.k8s.io/customresourcedefinitions') this.registerCrd(stored);
    if (key === '/namespaces' && !stored.metadata.deletionTimestamp) this.ensureDefaultServiceAccount(stored.metadata.name ?? '');
    if (stored.metadata.deletionTimestamp) this.scheduleGc();
  }

  private afterRemove(resource: ResourceType, removed: KubeObject | undefined): void {
    if (!removed) return;
    if (storageKey(resource) === 'apiextensions.k8s.io/customresourcedefinitions') this.unregisterCrd(removed);
    this.scheduleGc();
  }

  private ensureDefaultServiceAccount(namespace: string): void {
    if (this.store.get('/serviceaccounts', namespace, 'default')) return;
    this.create(this.resource('', 'v1', 'serviceaccounts'), namespace, { metadata: { name: 'default' } });
  }

  private registerCrd(crd: KubeObject): void {
    const spec = crd.spec as JsonObject;
    const names = spec.names as JsonObject;
    const group = String(spec.group);
    const plural = String(names.plural);
    this.registry.removeWhere((r) => r.crdName === crd.metadata.name);
    for (const key of [...this.customVersions.keys()]) if (key.startsWith(`${group}/`) && key.endsWith(`/${plural}`)) this.customVersions.delete(key);
    const versions = (spec.versions as unknown[]).filter(isJsonObject).filter((v) => v.served !== false);
    // Discovery lists versions in order; the storage version is listed first, as preferred.
    versions.sort((a, b) => Number(b.storage === true) - Number(a.storage === true));
    for (const version of versions) {
      const columns = (Array.isArray(version.additionalPrinterColumns) ? version.additionalPrinterColumns : []).filter(isJsonObject).map(printerColumn);
      const subresources = isJsonObject(version.subresources) ? version.subresources : {};
      const selectable = Array.isArray(version.selectableFields) ? version.selectableFields.filter(isJsonObject).map((f) => String(f.jsonPath).replace(/^\./, '')) : [];
      const kind = String(names.kind);
      this.registry.add({
        group,
        version: String(version.name),
        kind,
        listKind: typeof names.listKind === 'string' ? names.listKind : `${kind}List`,
        plural,
        singular: typeof names.singular === 'string' ? names.singular : kind.toLowerCase(),
        namespaced: spec.scope !== 'Cluster',
        shortNames: Array.isArray(names.shortNames) ? names.shortNames.map(String) : [],
        categories: Array.isArray(names.categories) ? names.categories.map(String) : [],
        verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
        statusSubresource: isJsonObject(subresources.status),
        selectableFields: selectable,
        columns: columns.length > 0 ? columns : [{ name: 'Age', type: 'date', description: 'Age', priority: 0, value: (o) => ageOf(o.metadata.creationTimestamp) }],
        crdName: crd.metadata.name ?? '',
      });
      const schema = isJsonObject(version.schema) && isJsonObject(version.schema.openAPIV3Schema) ? version.schema.openAPIV3Schema : undefined;
      this.customVersions.set(`${group}/${String(version.name)}/${plural}`, schema ? { schema, validate: this.compiler.compile(schema) } : {});
    }
  }

  private customStorageKey(crd: KubeObject): string {
    const spec = crd.spec as JsonObject;
    return `${String(spec.group)}/${String((spec.names as JsonObject).plural)}`;
  }

  private removeCustomObjects(crd: KubeObject): void {
    const key = this.customStorageKey(crd);
    for (const object of this.store.list(key)) this.store.remove(key, object.metadata.namespace, object.metadata.name ?? '');
  }

  private unregisterCrd(crd: KubeObject): void {
    this.removeCustomObjects(crd);
    this.store.dropResource(this.customStorageKey(crd));
    this.registry.removeWhere((r) => r.crdName === crd.metadata.name);
  }

  /** The openAPIV3Schema a custom resource version is validated against (for the OpenAPI documents). */
  customSchema(resource: ResourceType): JsonObject | undefined {
    return this.customVersions.get(`${resource.group}/${resource.version}/${resource.plural}`)?.schema;
  }
}

function printerColumn(column: JsonObject): PrinterColumn {
  const type = String(column.type ?? 'string');
  const steps = parseJsonPath(String(column.jsonPath));
  return {
    name: String(column.name),
    type,
    ...(typeof column.format === 'string' ? { format: column.format } : {}),
    description: typeof column.description === 'string' ? column.description : String(column.name),
    priority: typeof column.priority === 'number' ? column.priority : 0,
    value: (object) => {
      const values = evaluateJsonPath(steps, object);
      if (values.length === 0) return null;
      if (type === 'date') return ageOf(values[0]);
      if (values.length === 1) return values[0];
      return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
    },
  };
}

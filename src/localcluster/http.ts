import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { createLogger } from '../common/log.ts';
import type { ApiCore, DeleteOptions, PropagationPolicy, WriteOptions } from './core.ts';
import { ApiError, badRequest, conflict, forbidden, gone, methodNotAllowed, notFound, unsupportedMediaType } from './errors.ts';
import type { FaultInjector } from './faults.ts';
import { eventFieldToCore } from './conversion.ts';
import { decodeKubernetesProtobuf } from './protobuf.ts';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from './patch.ts';
import { FULL_AUTHORITY, authorize, boundRules, escalationMessage, hasAggregationRule, onlyGarbageCollectionFieldsChange, refusal, rulesFor, rulesOf, ungrantedRules, type RbacObjects, type RequestAttributes, type Rule, type UserInfo } from './rbac.ts';
import { apiVersionOf, storageKey, type ResourceType } from './registry.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, type FieldRequirement, type LabelRequirement } from './selectors.ts';
import type { StoreChange } from './store.ts';
import { isJsonObject, type JsonObject, type KubeObject } from './types.ts';
import { SERVER_VERSION, apiGroupDocument, apiGroupList, apiResourceList, apiVersions, openApiDocument, openApiIndex, openApiV2, toTable, type IncludeObject } from './views.ts';

/**
 * The HTTP/JSON face of the API server: authentication by bearer token, RBAC,
 * URL routing, content negotiation (JSON or Table), list paging, watch streams,
 * patches, and the admin fault endpoint. Object semantics live in ApiCore.
 */

export interface HttpApiOptions {
  core: ApiCore;
  faults: FaultInjector;
  /** Serve POST /anchorlb-admin/faults (admin token, loopback only). */
  faultEndpoint: boolean;
  /** Refuse requests without a token (HTTPS); over plain HTTP they act as the admin. */
  requireToken: boolean;
  authenticate(token: string): UserInfo | undefined;
  admin: UserInfo;
  issueServiceAccountToken(namespace: string, name: string): string;
  requestRestart(): void;
  bookmarkIntervalMs: number;
}

interface ResourceRequest {
  resource: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  watchPath: boolean;
}

interface ListFilter {
  namespace?: string;
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** How a client asked to see objects: whole, as a Table (kubectl get), or metadata only (metadata clients). */
type View = { kind: 'object' } | { kind: 'table'; include: IncludeObject } | { kind: 'metadata' };

function viewOf(accept: string | undefined, query: URLSearchParams): View {
  if (/as=Table/.test(accept ?? '')) {
    const include = query.get('includeObject') ?? 'Metadata';
    if (include !== 'None' && include !== 'Metadata' && include !== 'Object') throw badRequest(`includeObject: Unsupported value: ${JSON.stringify(include)}: supported values: "None", "Metadata", "Object"`);
    return { kind: 'table', include };
  }
  if (/as=PartialObjectMetadata/.test(accept ?? '')) return { kind: 'metadata' };
  return { kind: 'object' };
}

function partialMetadata(object: KubeObject): JsonObject {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

function renderOne(resource: ResourceType, object: KubeObject, view: View): unknown {
  if (view.kind === 'table') return toTable(resource, [object], { resourceVersion: object.metadata.resourceVersion }, view.include);
  if (view.kind === 'metadata') return partialMetadata(object);
  return object;
}
const log = createLogger('local-apiserver');

/** Watch event lines per change and served resource version, shared by all watchers. */
const serializedChanges = new WeakMap<StoreChange, Map<ResourceType, string>>();

function lineCache(change: StoreChange): Map<ResourceType, string> {
  let cache = serializedChanges.get(change);
  if (!cache) {
    cache = new Map();
    serializedChanges.set(change, cache);
  }
  return cache;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

/** The request body as an object: JSON, or the protobuf encoding kubectl's typed clients send. */
async function readObject(req: IncomingMessage): Promise<unknown> {
  const raw = await readRawBody(req);
  if (/protobuf/.test(req.headers['content-type'] ?? '')) return decodeKubernetesProtobuf(raw);
  return parseJsonBody(raw.toString('utf8'));
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readRawBody(req)).toString('utf8');
}

function readRawBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new ApiError(413, 'RequestEntityTooLarge', `the request body exceeds ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1' || (address?.startsWith('127.') ?? false);
}

function verbOf(method: string, request: ResourceRequest, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watch ? 'watch' : request.name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return request.name === undefined ? 'deletecollection' : 'delete';
    default:
      throw methodNotAllowed();
  }
}

function encodeContinue(revision: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'anchorlb/1', rv: revision, start: lastKey })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (isJsonObject(parsed) && typeof parsed.rv === 'number' && typeof parsed.start === 'string') return { rv: parsed.rv, start: parsed.start };
  } catch {
    // reported below
  }
  throw badRequest(`continue key is not valid: ${JSON.stringify(token)}`);
}

function objectKeyOf(object: KubeObject): string {
  return object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name ?? ''}` : (object.metadata.name ?? '');
}

export class HttpApi {
  private readonly core: ApiCore;

  constructor(private readonly options: HttpApiOptions) {
    this.core = options.core;
  }

  /** Entry point for node:http / node:https servers. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    if (log.isLevelEnabled('debug')) {
      const started = performance.now();
      res.on('finish', () => log.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Math.round(performance.now() - started) }, 'request'));
    }
    this.serve(req, res).catch((error: unknown) => {
      if (!(error instanceof ApiError)) log.error({ err: error, method: req.method, url: req.url }, 'internal error serving a request');
      const apiError = error instanceof ApiError ? error : new ApiError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`);
      if (res.headersSent) res.end();
      else sendJson(res, apiError.code, apiError.toStatus(), apiError.code === 429 ? { 'Retry-After': '1' } : {});
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const latency = this.options.faults.latencyMs;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/anchorlb-admin/faults') return this.serveFaults(req, res);
    const user = this.authenticate(req);
    const failure = this.options.faults.takeFailure();
    if (failure === 429) throw new ApiError(429, 'TooManyRequests', 'the server has received too many requests and has asked us to try again later', { retryAfterSeconds: 1 });
    if (failure === 500) throw new ApiError(500, 'InternalError', 'Internal error occurred: injected fault');
    const segments = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
    const resourceRequest = this.parseResourcePath(segments);
    if (!resourceRequest) return this.serveNonResource(method, path, segments, user, req.headers.accept, res);
    const watch = resourceRequest.watchPath || url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb = verbOf(method, resourceRequest, watch);
    const query = url.searchParams;
    // kube-apiserver's RequestInfo: a list or watch names its object only by a metadata.name field
    // selector; a create (POST to the collection) and a deletecollection name none.
    const nameFromSelector = verb === 'list' || verb === 'watch' ? /(?:^|,)metadata\.name==?([^,]+)/.exec(query.get('fieldSelector') ?? '')?.[1] : undefined;
    const attrs: RequestAttributes = {
      kind: 'resource',
      verb,
      group: resourceRequest.resource.group,
      resource: resourceRequest.resource.plural,
      ...(resourceRequest.subresource !== undefined ? { subresource: resourceRequest.subresource } : {}),
      ...(resourceRequest.namespace !== undefined ? { namespace: resourceRequest.namespace } : {}),
      ...((resourceRequest.name ?? nameFromSelector) !== undefined ? { name: resourceRequest.name ?? nameFromSelector } : {}),
    };
    if (!authorize(this.rbacObjects(user), user, attrs)) throw forbidden(refusal(user, attrs), resourceRequest.resource, resourceRequest.name);
    if (!resourceRequest.resource.verbs.includes(verb) && !(resourceRequest.subresource === 'token' && verb === 'create')) throw methodNotAllowed();
    if (['create', 'update', 'patch', 'delete', 'deletecollection'].includes(verb) && this.options.faults.takeConflict()) {
      throw conflict(resourceRequest.resource, resourceRequest.name ?? '', 'injected conflict: please apply your changes to the latest version and try again');
    }
    const contentType = req.headers['content-type'] ?? '';
    if (/cbor/.test(contentType)) throw unsupportedMediaType(contentType);
    await this.serveResource(req, res, verb, resourceRequest, query, user);
  }

  private authenticate(req: IncomingMessage): UserInfo {
    const header = req.headers.authorization;
    if (header === undefined) {
      if (this.options.requireToken) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      return this.impersonated(req, this.options.admin);
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const user = match ? this.options.authenticate(match[1] ?? '') : undefined;
    if (!user) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    return this.impersonated(req, user);
  }

  /** `kubectl --as/--as-group`: only identities allowed to impersonate (the admin) may act as another user. */
  private impersonated(req: IncomingMessage, user: UserInfo): UserInfo {
    const name = req.headers['impersonate-user'];
    if (typeof name !== 'string' || name === '') return user;
    const attrs: RequestAttributes = { kind: 'resource', verb: 'impersonate', group: '', resource: 'users', name };
    if (!authorize(this.rbacObjects(user), user, attrs)) throw forbidden(refusal(user, attrs));
    const raw = req.headersDistinct['impersonate-group'] ?? [];
    const groups = raw.flatMap((g) => g.split(',')).map((g) => g.trim()).filter((g) => g !== '');
    const account = /^system:serviceaccount:([^:]+):/.exec(name);
    const implied = account ? ['system:serviceaccounts', `system:serviceaccounts:${account[1] ?? ''}`] : [];
    return { name, groups: [...new Set([...groups, ...implied, 'system:authenticated'])] };
  }

  private rbacObjects(user: UserInfo): RbacObjects {
    if (user.groups.includes('system:masters')) return { roles: [], roleBindings: [], clusterRoles: [], clusterRoleBindings: [] };
    const store = this.core.store;
    const group = 'rbac.authorization.k8s.io';
    return {
      roles: store.list(`${group}/roles`),
      roleBindings: store.list(`${group}/rolebindings`),
      clusterRoles: store.list(`${group}/clusterroles`),
      clusterRoleBindings: store.list(`${group}/clusterrolebindings`),
    };
  }

  private async serveFaults(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.options.faultEndpoint) throw new ApiError(404, 'NotFound', 'fault injection is not enabled on this server');
    if (!isLoopback(req.socket.remoteAddress)) throw forbidden('the fault endpoint only answers loopback clients');
    const user = this.authenticate(req);
    if (user.name !== this.options.admin.name || req.headers.authorization === undefined) throw forbidden('the fault endpoint needs the admin token');
    if (req.method !== 'POST') throw methodNotAllowed('use POST');
    const body = parseJsonBody(await readBody(req));
    if (!isJsonObject(body)) throw badRequest('the fault request must be a JSON object');
    const faults = this.options.faults;
    const applied: string[] = [];
    try {
      if (body.failNext !== undefined) {
        const spec = isJsonObject(body.failNext) ? body.failNext : {};
        faults.failNext(Number(spec.count), Number(spec.status ?? 500) as 500 | 429);
        applied.push('failNext');
      }
      if (body.conflictNextWrites !== undefined) {
        faults.conflictNextWrites(Number(body.conflictNextWrites));
        applied.push('conflictNextWrites');
      }
      if (body.latencyMs !== undefined) {
        faults.setLatency(Number(body.latencyMs));
        applied.push('latencyMs');
      }
    } catch (error) {
      throw badRequest((error as Error).message);
    }
    if (body.dropWatches === true) applied.push('dropWatches');
    if (body.restart === true) applied.push('restart');
    sendJson(res, 200, { applied });
    if (body.dropWatches === true) faults.dropWatches();
    if (body.restart === true) this.options.requestRestart();
  }

  private serveNonResource(method: string, path: string, segments: string[], user: UserInfo, accepts: string | undefined, res: ServerResponse): void {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed();
    if (!authorize(this.rbacObjects(user), user, { kind: 'nonResource', verb: 'get', path })) throw forbidden(refusal(user, { kind: 'nonResource', verb: 'get', path }));
    const registry = this.core.registry;
    if (path === '/healthz' || path === '/readyz' || path === '/livez' || /^\/(healthz|readyz|livez)\//.test(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    let body: unknown;
    if (path === '/version') body = SERVER_VERSION;
    else if (path === '/api') body = apiVersions();
    else if (path === '/apis') body = apiGroupList(registry);
    else if (path === '/openapi/v3') body = openApiIndex(registry);
    else if (path === '/openapi/v2') {
      // Only JSON is served: a client asking for the protobuf encoding alone (kubectl) gets 404 and does without.
      const accept = accepts ?? '';
      if (/protobuf/.test(accept) && !/json|\*\/\*/.test(accept)) throw new ApiError(404, 'NotFound', 'the server serves /openapi/v2 as JSON only');
      body = openApiV2(registry, (r) => this.core.customSchema(r));
    }
    else if (segments[0] === 'api' && segments.length === 2) body = apiResourceList(registry, '', segments[1] ?? '');
    else if (segments[0] === 'apis' && segments.length === 2) body = apiGroupDocument(registry, segments[1] ?? '');
    else if (segments[0] === 'apis' && segments.length === 3) body = apiResourceList(registry, segments[1] ?? '', segments[2] ?? '');
    else if (segments[0] === 'openapi' && segments[1] === 'v3') {
      const rest = segments.slice(2);
      const [group, version] = rest[0] === 'api' ? ['', rest[1] ?? ''] : [rest[1] ?? '', rest[2] ?? ''];
      body = openApiDocument(registry, group, version, (r) => this.core.customSchema(r));
    }
    if (body === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    sendJson(res, 200, body);
  }

  /** Resolves /api/v1/... and /apis/G/V/... to a resource; undefined for discovery and other paths. */
  private parseResourcePath(segments: string[]): ResourceRequest | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === 'api' && segments.length >= 3) [group, version, rest] = ['', segments[1] ?? '', segments.slice(2)];
    else if (segments[0] === 'apis' && segments.length >= 4) [group, version, rest] = [segments[1] ?? '', segments[2] ?? '', segments.slice(3)];
    else return undefined;
    const watchPath = rest[0] === 'watch';
    if (watchPath) rest = rest.slice(1);
    const registry = this.core.registry;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const nested = registry.find(group, version, rest[2] ?? '');
      if (nested?.namespaced) {
        return { resource: nested, namespace: rest[1], ...(rest[3] !== undefined ? { name: rest[3] } : {}), ...(rest[4] !== undefined ? { subresource: rest[4] } : {}), watchPath };
      }
    }
    const resource = this.core.resource(group, version, rest[0] ?? '');
    if (rest.length > 3) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    return { resource, ...(rest[1] !== undefined ? { name: rest[1] } : {}), ...(rest[2] !== undefined ? { subresource: rest[2] } : {}), watchPath };
  }

  private async serveResource(req: IncomingMessage, res: ServerResponse, verb: string, request: ResourceRequest, query: URLSearchParams, user: UserInfo): Promise<void> {
    const { resource, namespace, name, subresource } = request;
    const warnings: string[] = [];
    const fieldValidation = query.get('fieldValidation');
    if (fieldValidation !== null && !['Strict', 'Warn', 'Ignore'].includes(fieldValidation)) {
      throw badRequest(`fieldValidation parameter unsupported: ${fieldValidation}; must be one of Strict, Warn, Ignore`);
    }
    const writeOptions: WriteOptions = {
      dryRun: query.getAll('dryRun').includes('All'),
      fieldValidation: (fieldValidation ?? 'Warn') as WriteOptions['fieldValidation'],
      warnings,
      beforeStore: (target, object, old) => this.preventEscalation(user, target, object, old, name),
    };
    const headers = (): Record<string, string> => (warnings.length > 0 ? { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') } : {});
    const view = viewOf(req.headers.accept, query);
    const render = (object: KubeObject): unknown => renderOne(resource, object, view);

    if (storageKey(resource) === 'authorization.k8s.io/selfsubjectaccessreviews') {
      const review = await readObject(req);
      sendJson(res, 201, this.accessReview(review, user));
      return;
    }
    if (storageKey(resource) === 'authorization.k8s.io/selfsubjectrulesreviews') {
      const review = await readObject(req);
      const spec = isJsonObject(review) && isJsonObject(review.spec) ? review.spec : {};
      const reviewed = typeof spec.namespace === 'string' ? spec.namespace : 'default';
      sendJson(res, 201, { kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', metadata: {}, spec, status: { ...rulesFor(this.rbacObjects(user), user, reviewed), incomplete: false } });
      return;
    }
    if (storageKey(resource) === 'authentication.k8s.io/selfsubjectreviews') {
      await readObject(req);
      sendJson(res, 201, { kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1', metadata: {}, status: { userInfo: { username: user.name, groups: user.groups } } });
      return;
    }
    if (subresource === 'token' && storageKey(resource) === '/serviceaccounts' && verb === 'create') {
      this.core.get(resource, namespace, name ?? '');
      await readObject(req);
      const token = this.options.issueServiceAccountToken(namespace ?? '', name ?? '');
      const expiration = new Date(Date.now() + 24 * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      sendJson(res, 201, { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { name, namespace }, spec: { audiences: [], expirationSeconds: 86400 }, status: { token, expirationTimestamp: expiration } });
      return;
    }
    if (subresource === 'scale' && (storageKey(resource) === 'apps/deployments' || storageKey(resource) === 'apps/replicasets')) {
      await this.serveScale(req, res, verb, resource, namespace, name ?? '', writeOptions);
      return;
    }
    switch (verb) {
      case 'get':
        if (subresource !== undefined && subresource !== 'status') throw notFound(resource, `${name ?? ''}/${subresource}`);
        sendJson(res, 200, render(this.core.get(resource, namespace, name ?? '')));
        return;
      case 'list':
        sendJson(res, 200, this.list(resource, this.filter(resource, namespace, query), query, view));
        return;
      case 'watch':
        this.watch(req, res, resource, this.filter(resource, namespace, query, name), query, view);
        return;
      case 'create': {
        if (subresource !== undefined) throw methodNotAllowed();
        const created = this.core.create(resource, namespace, await readObject(req), writeOptions);
        sendJson(res, 201, created, headers());
        return;
      }
      case 'update': {
        const updated = this.core.update(resource, namespace, name ?? '', await readObject(req), subresource, writeOptions);
        sendJson(res, 200, updated, headers());
        return;
      }
      case 'patch': {
        const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
        const patched = this.patch(resource, namespace, name ?? '', subresource, contentType, await readBody(req), query, writeOptions);
        sendJson(res, patched.created ? 201 : 200, patched.object, headers());
        return;
      }
      case 'delete': {
        const options = this.deleteOptions(await readObject(req), query);
        const left = this.core.delete(resource, namespace, name ?? '', options);
        if (!options.dryRun && !this.core.store.get(storageKey(resource), resource.namespaced ? namespace : undefined, name ?? '')) {
          sendJson(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: resource.group, kind: resource.plural, uid: left.metadata.uid } });
        } else sendJson(res, 200, left);
        return;
      }
      case 'deletecollection': {
        const options = this.deleteOptions(await readObject(req), query);
        const filter = this.filter(resource, namespace, query);
        const deleted = this.core
          .list(resource, filter.namespace)
          .filter((o) => this.matches(o, filter))
          .map((o) => this.core.delete(resource, o.metadata.namespace, o.metadata.name ?? '', options));
        sendJson(res, 200, { kind: resource.listKind, apiVersion: apiVersionOf(resource), metadata: { resourceVersion: String(this.core.store.revision) }, items: deleted });
        return;
      }
      default:
        throw methodNotAllowed();
    }
  }

  /**
   * Refuses a role or binding that grants more than its writer holds, exactly as kube-apiserver's
   * policy-based RBAC storage does (pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased):
   * - a role write skips the check with `escalate` on the request's own name, which a create (a POST
   *   to the collection) does not have: a name-limited `escalate` allows updates, never a create;
   * - a binding write skips it with `bind` on the role the roleRef names, in the binding's namespace;
   * - otherwise the writer's rules must cover what is granted, and setting or dropping a ClusterRole's
   *   aggregationRule needs `*` on everything; an update changing only owner references and
   *   finalizers is not checked.
   */
  private preventEscalation(user: UserInfo, resource: ResourceType, object: KubeObject, old: KubeObject | undefined, requestName: string | undefined): void {
    if (resource.group !== 'rbac.authorization.k8s.io' || user.groups.includes('system:masters')) return;
    if (old !== undefined && onlyGarbageCollectionFieldsChange(object, old)) return;
    const policy = this.rbacObjects(user);
    const namespace = object.metadata.namespace;
    const name = object.metadata.name ?? '';
    const refuse = (message: string): ApiError => forbidden(`${resource.plural}.${resource.group} "${name}" is forbidden: ${message}`, resource, name);
    const allowed = (verb: string, target: string, targetName: string | undefined): boolean =>
      authorize(policy, user, { kind: 'resource', verb, group: resource.group, resource: target, ...(namespace !== undefined ? { namespace } : {}), ...(targetName !== undefined ? { name: targetName } : {}) });
    const confirm = (granted: Rule[]): void => {
      const missing = ungrantedRules(policy, user, granted, namespace);
      if (missing.length > 0) throw refuse(escalationMessage(user, missing));
    };
    if (resource.plural === 'roles' || resource.plural === 'clusterroles') {
      if (allowed('escalate', resource.plural, requestName)) return;
      confirm(rulesOf(object));
      if (resource.plural === 'clusterroles' && (hasAggregationRule(object) || hasAggregationRule(old)) && ungrantedRules(policy, user, FULL_AUTHORITY, undefined).length > 0) {
        throw refuse('must have cluster-admin privileges to use the aggregationRule');
      }
      return;
    }
    const ref = isJsonObject(object.roleRef) ? object.roleRef : {};
    const refResource = ref.kind === 'Role' ? 'roles' : 'clusterroles';
    if (allowed('bind', refResource, String(ref.name ?? ''))) return;
    const granted = boundRules(policy, object);
    // kube-apiserver answers with the role lister's NotFound.
    if (!granted) throw notFound({ group: resource.group, plural: refResource.slice(0, -1), kind: String(ref.kind) }, String(ref.name ?? ''));
    confirm(granted);
  }

  private accessReview(review: unknown, user: UserInfo): JsonObject {
    const spec = isJsonObject(review) && isJsonObject(review.spec) ? review.spec : {};
    let attrs: RequestAttributes;
    if (isJsonObject(spec.resourceAttributes)) {
      const r = spec.resourceAttributes;
      attrs = {
        kind: 'resource',
        verb: String(r.verb ?? ''),
        group: String(r.group ?? ''),
        resource: String(r.resource ?? ''),
        ...(typeof r.subresource === 'string' && r.subresource !== '' ? { subresource: r.subresource } : {}),
        ...(typeof r.namespace === 'string' && r.namespace !== '' ? { namespace: r.namespace } : {}),
        ...(typeof r.name === 'string' && r.name !== '' ? { name: r.name } : {}),
      };
    } else if (isJsonObject(spec.nonResourceAttributes)) {
      attrs = { kind: 'nonResource', verb: String(spec.nonResourceAttributes.verb ?? ''), path: String(spec.nonResourceAttributes.path ?? '') };
    } else throw badRequest('spec.resourceAttributes or spec.nonResourceAttributes is required');
    const allowed = authorize(this.rbacObjects(user), user, attrs);
    return { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status: { allowed, ...(allowed ? { reason: 'RBAC: allowed' } : {}) } };
  }

  private deleteOptions(body: unknown, query: URLSearchParams): DeleteOptions {
    const options: DeleteOptions = { dryRun: query.getAll('dryRun').includes('All') };
    const fromBody = isJsonObject(body) ? body : {};
    const policy = query.get('propagationPolicy') ?? fromBody.propagationPolicy ?? (fromBody.orphanDependents === true ? 'Orphan' : undefined);
    if (policy !== undefined) {
      if (policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') throw badRequest(`propagationPolicy: Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"`);
      options.propagationPolicy = policy as PropagationPolicy;
    }
    if (isJsonObject(fromBody.preconditions)) {
      const pre = fromBody.preconditions;
      options.preconditions = {
        ...(typeof pre.uid === 'string' ? { uid: pre.uid } : {}),
        ...(typeof pre.resourceVersion === 'string' ? { resourceVersion: pre.resourceVersion } : {}),
      };
    }
    if (Array.isArray(fromBody.dryRun) && fromBody.dryRun.includes('All')) options.dryRun = true;
    return options;
  }

  private filter(resource: ResourceType, namespace: string | undefined, query: URLSearchParams, name?: string): ListFilter {
    const fields = parseFieldSelector(query.get('fieldSelector') ?? '');
    const allowed = new Set(['metadata.name', 'metadata.namespace', ...resource.selectableFields]);
    for (const field of fields) {
      if (!allowed.has(field.field)) throw badRequest(`field label not supported: ${field.field}`);
      if (resource.group === 'events.k8s.io') field.field = eventFieldToCore(field.field);
    }
    if (name !== undefined) fields.push({ field: 'metadata.name', op: '=', value: name });
    return { ...(resource.namespaced && namespace !== undefined ? { namespace } : {}), labels: parseLabelSelector(query.get('labelSelector') ?? ''), fields };
  }

  private matches(object: KubeObject, filter: ListFilter): boolean {
    if (filter.namespace !== undefined && object.metadata.namespace !== filter.namespace) return false;
    return matchesLabels(filter.labels, object.metadata.labels) && matchesFields(filter.fields, object);
  }

  private list(resource: ResourceType, filter: ListFilter, query: URLSearchParams, view: View): JsonObject {
    const store = this.core.store;
    const limitText = query.get('limit');
    const limit = limitText === null || limitText === '' ? 0 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`limit: Invalid value: ${JSON.stringify(limitText)}: must be a non-negative integer`);
    const continueToken = query.get('continue');
    let revision = store.revision;
    let items = this.core.list(resource, filter.namespace);
    const rvText = query.get('resourceVersion') ?? '';
    if (query.get('resourceVersionMatch') === 'Exact' && !continueToken) {
      if (!/^\d+$/.test(rvText)) throw badRequest(`resourceVersionMatch: Invalid value: "Exact": resourceVersionMatch "Exact" is forbidden for resourceVersion "${rvText}"`);
      const past = store.listAt(storageKey(resource), filter.namespace, Number(rvText));
      if (past === 'expired') throw gone(`too old resource version: ${rvText} (${store.oldestWatchableRevision})`);
      items = past;
      revision = Number(rvText);
    }
    let start: string | undefined;
    if (continueToken) {
      // Later pages show the state at the first page's revision, rebuilt from history, as a snapshot would.
      const position = decodeContinue(continueToken);
      const past = store.listAt(storageKey(resource), filter.namespace, position.rv);
      if (past === 'expired') throw gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      items = past;
      revision = position.rv;
      start = position.start;
    }
    items = items.filter((o) => (start === undefined || objectKeyOf(o) > start) && this.matches(o, filter));
    const metadata: JsonObject = { resourceVersion: String(revision) };
    if (limit > 0 && items.length > limit) {
      const remaining = items.length - limit;
      items = items.slice(0, limit);
      metadata.continue = encodeContinue(revision, objectKeyOf(items[items.length - 1] as KubeObject));
      metadata.remainingItemCount = remaining;
    }
    const presented = items.map((o) => this.core.present(resource, o));
    if (view.kind === 'table') return toTable(resource, presented, metadata, view.include);
    if (view.kind === 'metadata') return { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata, items: presented.map(partialMetadata) };
    return { kind: resource.listKind, apiVersion: apiVersionOf(resource), metadata, items: presented };
  }

  private patch(resource: ResourceType, namespace: string | undefined, name: string, subresource: string | undefined, contentType: string, text: string, query: URLSearchParams, options: WriteOptions): { object: KubeObject; created: boolean } {
    const scope = resource.namespaced ? namespace : undefined;
    const existing = this.core.store.get(storageKey(resource), scope, name);
    if (contentType === 'application/apply-patch+yaml' || contentType === 'application/apply-patch+json') {
      // Server-side apply, approximated: create, or merge the applied configuration (no field ownership).
      if (!query.get('fieldManager')) throw badRequest('PATCH, application/apply-patch+yaml: fieldManager is required for apply requests');
      let applied: unknown;
      try {
        applied = parseYaml(text);
      } catch (error) {
        throw badRequest(`the apply patch is not valid YAML: ${(error as Error).message}`);
      }
      if (!existing) return { object: this.core.create(resource, namespace, applied, options), created: true };
      const merged = resource.crdName ? applyMergePatch(this.core.present(resource, existing), applied) : applyStrategicMergePatch(this.core.present(resource, existing), applied);
      return { object: this.commitPatch(resource, existing, merged, subresource, options), created: false };
    }
    if (!existing) throw notFound(resource, name);
    const patched = this.applyPatchBody(resource, contentType, this.core.present(resource, existing), text);
    return { object: this.commitPatch(resource, existing, patched, subresource, options), created: false };
  }

  /** Applies a JSON, merge or strategic merge patch to `current`. */
  private applyPatchBody(resource: ResourceType, contentType: string, current: JsonObject, text: string): unknown {
    const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];
    if (!patchTypes.includes(contentType)) throw unsupportedMediaType(contentType);
    const body = parseJsonBody(text);
    switch (contentType) {
      case 'application/json-patch+json':
        return applyJsonPatch(current, body);
      case 'application/merge-patch+json':
        if (!isJsonObject(body)) throw badRequest('a merge patch must be a JSON object');
        return applyMergePatch(current, body);
      default:
        if (resource.crdName) {
          throw new ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
        }
        if (!isJsonObject(body)) throw badRequest('a strategic merge patch must be a JSON object');
        return applyStrategicMergePatch(current, body);
    }
  }

  /** The scale subresource of deployments and replica sets: an autoscaling/v1 Scale over spec.replicas. */
  private async serveScale(req: IncomingMessage, res: ServerResponse, verb: string, resource: ResourceType, namespace: string | undefined, name: string, options: WriteOptions): Promise<void> {
    const scaleOf = (object: KubeObject): JsonObject => {
      const spec = isJsonObject(object.spec) ? object.spec : {};
      const status = isJsonObject(object.status) ? object.status : {};
      const selector = isJsonObject(spec.selector) && isJsonObject(spec.selector.matchLabels) ? Object.entries(spec.selector.matchLabels).map(([k, v]) => `${k}=${String(v)}`).join(',') : '';
      const { name: objectName, namespace: objectNamespace, uid, resourceVersion, creationTimestamp } = object.metadata;
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: { name: objectName, namespace: objectNamespace, uid, resourceVersion, creationTimestamp },
        spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 1 },
        status: { replicas: typeof status.replicas === 'number' ? status.replicas : 0, selector },
      };
    };
    const existing = this.core.get(resource, namespace, name);
    if (verb === 'get') {
      sendJson(res, 200, scaleOf(existing));
      return;
    }
    let wanted: unknown;
    if (verb === 'update') wanted = await readObject(req);
    else if (verb === 'patch') wanted = this.applyPatchBody({ ...resource, crdName: undefined }, (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '', scaleOf(existing), await readBody(req));
    else throw methodNotAllowed();
    const scale = isJsonObject(wanted) ? wanted : {};
    const replicas = isJsonObject(scale.spec) ? scale.spec.replicas : undefined;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new ApiError(422, 'Invalid', `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`);
    }
    const wantedVersion = isJsonObject(scale.metadata) ? scale.metadata.resourceVersion : undefined;
    if (verb === 'update' && typeof wantedVersion === 'string' && wantedVersion !== '' && wantedVersion !== existing.metadata.resourceVersion) throw conflict(resource, name);
    const stored = this.core.store.get(storageKey(resource), namespace, name) as KubeObject;
    const updated = { ...existing, spec: { ...(isJsonObject(existing.spec) ? existing.spec : {}), replicas } };
    sendJson(res, 200, scaleOf(this.core.replace(resource, stored, updated, undefined, options)));
  }

  private commitPatch(resource: ResourceType, existing: KubeObject, patched: unknown, subresource: string | undefined, options: WriteOptions): KubeObject {
    if (!isJsonObject(patched) || !isJsonObject(patched.metadata)) throw badRequest('the patched object must be a JSON object with metadata');
    const object = patched as KubeObject;
    const name = existing.metadata.name ?? '';
    if (object.metadata.name !== name) throw badRequest(`the name of the object (${String(object.metadata.name)}) does not match the name on the URL (${name})`);
    if (object.metadata.resourceVersion !== undefined && object.metadata.resourceVersion !== existing.metadata.resourceVersion) throw conflict(resource, name);
    object.apiVersion = apiVersionOf(resource);
    object.kind = resource.kind;
    return this.core.replace(resource, existing, object, subresource, options);
  }

  private watch(req: IncomingMessage, res: ServerResponse, resource: ResourceType, filter: ListFilter, query: URLSearchParams, view: View): void {
    const store = this.core.store;
    const key = storageKey(resource);
    const rvText = query.get('resourceVersion') ?? '';
    const bookmarks = query.get('allowWatchBookmarks') === 'true';
    const sendInitial = query.get('sendInitialEvents') === 'true';
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    if (rvText !== '' && !/^\d+$/.test(rvText)) throw badRequest(`resourceVersion: Invalid value: ${JSON.stringify(rvText)}: must be a non-negative integer`);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const write = (type: string, object: unknown): void => {
      res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const emit = (type: string, object: KubeObject, change?: StoreChange): void => {
      if (view.kind !== 'object') {
        write(type, renderOne(resource, this.core.present(resource, object), view));
        return;
      }
      // Plain events for the same change are identical for every watcher of this resource version: serialize once.
      const cache = change !== undefined && type === change.type ? lineCache(change) : undefined;
      let line = cache?.get(resource);
      if (line === undefined) {
        line = `${JSON.stringify({ type, object: this.core.present(resource, object) })}\n`;
        cache?.set(resource, line);
      }
      res.write(line);
    };
    const onChange = (change: StoreChange): void => {
      if (resource.crdName && change.type === 'DELETED' && change.resource === 'apiextensions.k8s.io/customresourcedefinitions' && change.object.metadata.name === resource.crdName) {
        finish();
        return;
      }
      if (change.resource !== key) return;
      const now = this.matches(change.object, filter);
      if (change.type === 'MODIFIED') {
        const before = change.previous !== undefined && this.matches(change.previous, filter);
        if (now && before) emit('MODIFIED', change.object, change);
        else if (now) emit('ADDED', change.object);
        // The object as it last matched, stamped with the revision of the change that made it leave.
        else if (before && change.previous) emit('DELETED', { ...change.previous, metadata: { ...change.previous.metadata, resourceVersion: String(change.revision) } });
      } else if (now) emit(change.type, change.object, change);
    };
    const bookmark = (annotations?: Record<string, string>): void => {
      write('BOOKMARK', { kind: resource.kind, apiVersion: apiVersionOf(resource), metadata: { resourceVersion: String(store.revision), ...(annotations ? { annotations } : {}) } });
    };
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (): void => {
      if (finished) return;
      finished = true;
      unsubscribe();
      untrack();
      for (const timer of timers) clearTimeout(timer);
      res.end();
    };
    // A watcher that cannot be served is ended; it must never fail the write that notified it.
    const unsubscribe = store.subscribe((change) => {
      try {
        onChange(change);
      } catch (error) {
        log.error({ err: error }, 'watch stream failed; ending it');
        finish();
      }
    });
    const untrack = this.options.faults.trackWatch(finish);
    req.on('close', finish);
    res.on('close', finish);
    if (rvText === '' || rvText === '0' || sendInitial) {
      // Start from the current state, as kube-apiserver does for an unset or "0" resourceVersion.
      for (const object of this.core.list(resource, filter.namespace)) if (this.matches(object, filter)) emit('ADDED', object);
      if (sendInitial && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
    } else {
      const history = store.changesSince(Number(rvText));
      if (history.kind === 'expired') {
        write('ERROR', new ApiError(410, 'Expired', `too old resource version: ${rvText} (${history.oldest})`).toStatus());
        finish();
        return;
      }
      for (const change of history.changes) onChange(change);
    }
    if (bookmarks) timers.push(setInterval(() => bookmark(), this.options.bookmarkIntervalMs));
    if (timeoutSeconds > 0) timers.push(setTimeout(finish, timeoutSeconds * 1000));
  }
}

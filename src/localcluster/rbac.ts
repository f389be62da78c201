import { isJsonObject, type KubeObject } from './types.ts';

/**
 * RBAC authorization over the Role/ClusterRole/RoleBinding/ClusterRoleBinding
 * objects held by the server, as kube-apiserver's RBAC authorizer decides.
 */

export interface UserInfo {
  name: string;
  groups: string[];
}

export type RequestAttributes =
  | { kind: 'resource'; verb: string; group: string; resource: string; subresource?: string; namespace?: string; name?: string }
  | { kind: 'nonResource'; verb: string; path: string };

export interface RbacObjects {
  roles: KubeObject[];
  roleBindings: KubeObject[];
  clusterRoles: KubeObject[];
  clusterRoleBindings: KubeObject[];
}

/** Paths every authenticated identity may read (kube-apiserver's system:discovery and public-info roles). */
const PUBLIC_PATHS = [/^\/api(\/v1)?\/?$/, /^\/apis(\/[^/]+(\/[^/]+)?)?\/?$/, /^\/version\/?$/, /^\/healthz/, /^\/readyz/, /^\/livez/, /^\/openapi\//];

/** The same paths as rules (what `kubectl auth can-i --list` shows and escalation checks count as held). */
const PUBLIC_URLS = ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/readyz', '/version', '/version/', '/openapi', '/openapi/*'];

const SELF_REVIEWS = new Set(['authorization.k8s.io/selfsubjectaccessreviews', 'authorization.k8s.io/selfsubjectrulesreviews', 'authentication.k8s.io/selfsubjectreviews']);

export interface Rule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** The rules of a Role or ClusterRole object as written (an aggregated ClusterRole's own rules only, as kube-apiserver checks a write). */
export function rulesOf(role: KubeObject | undefined): Rule[] {
  const rules = role?.rules;
  if (!Array.isArray(rules)) return [];
  return rules.filter(isJsonObject).map((r) => ({
    verbs: strings(r.verbs),
    apiGroups: strings(r.apiGroups),
    resources: strings(r.resources),
    resourceNames: strings(r.resourceNames),
    nonResourceURLs: strings(r.nonResourceURLs),
  }));
}

function subjectMatches(binding: KubeObject, user: UserInfo): boolean {
  const subjects = Array.isArray(binding.subjects) ? binding.subjects.filter(isJsonObject) : [];
  return subjects.some((subject) => {
    switch (subject.kind) {
      case 'User':
        return subject.name === user.name;
      case 'Group':
        return typeof subject.name === 'string' && user.groups.includes(subject.name);
      case 'ServiceAccount':
        return user.name === `system:serviceaccount:${String(subject.namespace)}:${String(subject.name)}`;
      default:
        return false;
    }
  });
}

function ruleAllows(rule: Rule, attrs: RequestAttributes): boolean {
  if (!rule.verbs.includes('*') && !rule.verbs.includes(attrs.verb)) return false;
  if (attrs.kind === 'nonResource') {
    return rule.nonResourceURLs.some((url) => url === '*' || url === attrs.path || (url.endsWith('*') && attrs.path.startsWith(url.slice(0, -1))));
  }
  if (!rule.apiGroups.includes('*') && !rule.apiGroups.includes(attrs.group)) return false;
  const wanted = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const resourceOk = rule.resources.some((r) => r === '*' || r === wanted || (attrs.subresource !== undefined && r === `*/${attrs.subresource}`));
  if (!resourceOk) return false;
  return rule.resourceNames.length === 0 || (attrs.name !== undefined && rule.resourceNames.includes(attrs.name));
}

/** A ClusterRole's own rules plus, for an aggregated one, the rules of every ClusterRole its selectors match. */
function effectiveRules(role: KubeObject | undefined, policy: RbacObjects): Rule[] {
  const aggregation = role?.aggregationRule;
  if (!isJsonObject(aggregation) || !Array.isArray(aggregation.clusterRoleSelectors)) return rulesOf(role);
  const selectors = aggregation.clusterRoleSelectors.filter(isJsonObject);
  const members = policy.clusterRoles.filter((other) => other !== role && selectors.some((selector) => selectorMatches(selector, other.metadata.labels ?? {})));
  return [...rulesOf(role), ...members.flatMap((member) => rulesOf(member))];
}

/** A metav1.LabelSelector (matchLabels and matchExpressions). */
function selectorMatches(selector: Record<string, unknown>, labels: Record<string, string>): boolean {
  const matchLabels = isJsonObject(selector.matchLabels) ? selector.matchLabels : {};
  if (!Object.entries(matchLabels).every(([key, value]) => labels[key] === value)) return false;
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions.filter(isJsonObject) : [];
  return expressions.every((expression) => {
    const value = labels[String(expression.key)];
    const values = strings(expression.values);
    switch (expression.operator) {
      case 'In':
        return value !== undefined && values.includes(value);
      case 'NotIn':
        return value === undefined || !values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        return false;
    }
  });
}

function roleFor(ref: unknown, namespace: string | undefined, policy: RbacObjects): KubeObject | undefined {
  if (!isJsonObject(ref)) return undefined;
  if (ref.kind === 'ClusterRole') return policy.clusterRoles.find((r) => r.metadata.name === ref.name);
  if (ref.kind === 'Role') return policy.roles.find((r) => r.metadata.name === ref.name && r.metadata.namespace === namespace);
  return undefined;
}

export function authorize(policy: RbacObjects, user: UserInfo, attrs: RequestAttributes): boolean {
  if (user.groups.includes('system:masters')) return true;
  if (attrs.kind === 'nonResource' && attrs.verb === 'get' && PUBLIC_PATHS.some((p) => p.test(attrs.path))) return true;
  // kube-apiserver's system:basic-user role: everyone may ask what they themselves may do.
  if (attrs.kind === 'resource' && attrs.verb === 'create' && SELF_REVIEWS.has(`${attrs.group}/${attrs.resource}`)) return true;
  for (const binding of policy.clusterRoleBindings) {
    if (subjectMatches(binding, user) && effectiveRules(roleFor(binding.roleRef, undefined, policy), policy).some((rule) => ruleAllows(rule, attrs))) return true;
  }
  if (attrs.kind === 'resource' && attrs.namespace !== undefined) {
    for (const binding of policy.roleBindings) {
      if (binding.metadata.namespace !== attrs.namespace || !subjectMatches(binding, user)) continue;
      if (effectiveRules(roleFor(binding.roleRef, attrs.namespace, policy), policy).some((rule) => ruleAllows(rule, attrs))) return true;
    }
  }
  return false;
}

/** kube-apiserver's wording of a refusal. */
export function refusal(user: UserInfo, attrs: RequestAttributes): string {
  if (attrs.kind === 'nonResource') return `forbidden: User "${user.name}" cannot ${attrs.verb} path "${attrs.path}"`;
  const qualified = attrs.group === '' ? attrs.resource : `${attrs.resource}.${attrs.group}`;
  const target = attrs.name ? `${qualified} "${attrs.name}"` : qualified;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const scope = attrs.namespace !== undefined ? `in the namespace "${attrs.namespace}"` : 'at the cluster scope';
  return `${target} is forbidden: User "${user.name}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.group}" ${scope}`;
}

/** Go's `%q` of a []string, as kube-apiserver's messages print lists: `["a" "b"]`. */
function quoted(values: string[]): string {
  return `[${values.map((value) => JSON.stringify(value)).join(' ')}]`;
}

/** rbacv1helpers.CompactString: the fields a rule has, in kube-apiserver's order. */
function compactString(rule: Rule): string {
  const parts: string[] = [];
  if (rule.apiGroups.length > 0) parts.push(`APIGroups:${quoted(rule.apiGroups)}`);
  if (rule.resources.length > 0) parts.push(`Resources:${quoted(rule.resources)}`);
  if (rule.nonResourceURLs.length > 0) parts.push(`NonResourceURLs:${quoted(rule.nonResourceURLs)}`);
  if (rule.resourceNames.length > 0) parts.push(`ResourceNames:${quoted(rule.resourceNames)}`);
  if (rule.verbs.length > 0) parts.push(`Verbs:${quoted(rule.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/** validation.BreakdownRule: one rule per group, resource, verb and name (or URL and verb). */
function breakdown(rule: Rule): Rule[] {
  const none = { apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: [] };
  const names = rule.resourceNames.length > 0 ? rule.resourceNames.map((name) => [name]) : [[]];
  const resourceRules = rule.apiGroups.flatMap((group) =>
    rule.resources.flatMap((resource) => rule.verbs.flatMap((verb) => names.map((resourceNames) => ({ ...none, apiGroups: [group], resources: [resource], verbs: [verb], resourceNames })))),
  );
  const urlRules = rule.nonResourceURLs.flatMap((url) => rule.verbs.map((verb) => ({ ...none, nonResourceURLs: [url], verbs: [verb] })));
  return [...resourceRules, ...urlRules];
}

function resourcesCovered(owned: string[], wanted: string[]): boolean {
  if (owned.includes('*')) return true;
  return wanted.every((resource) => owned.includes(resource) || (resource.includes('/') && owned.includes(`*/${resource.slice(resource.indexOf('/') + 1)}`)));
}

/** validation.ruleCovers: does the owner's rule cover the (broken down) wanted rule, literally. */
function ruleCovers(owner: Rule, wanted: Rule): boolean {
  const all = (set: string[], values: string[]) => set.includes('*') || values.every((value) => set.includes(value));
  const names = wanted.resourceNames.length === 0 ? owner.resourceNames.length === 0 : owner.resourceNames.length === 0 || wanted.resourceNames.every((name) => owner.resourceNames.includes(name));
  const urls = wanted.nonResourceURLs.every((path) => owner.nonResourceURLs.some((url) => url === path || (url.endsWith('*') && path.startsWith(url.replace(/\*+$/, '')))));
  return all(owner.verbs, wanted.verbs) && all(owner.apiGroups, wanted.apiGroups) && resourcesCovered(owner.resources, wanted.resources) && names && urls;
}

/** validation.CompactRules: broken-down rules of one group and resource (and at most one name) merged over their verbs. */
function compact(rules: Rule[]): Rule[] {
  const merged = new Map<string, Rule>();
  const others: Rule[] = [];
  for (const rule of rules) {
    const simple = rule.nonResourceURLs.length === 0 && rule.resourceNames.length <= 1 && rule.apiGroups.length === 1 && rule.resources.length === 1;
    if (!simple) {
      others.push(rule);
      continue;
    }
    const key = JSON.stringify([rule.apiGroups, rule.resources, rule.resourceNames]);
    const existing = merged.get(key);
    if (existing) existing.verbs = [...existing.verbs, ...rule.verbs];
    else merged.set(key, { ...rule, verbs: [...rule.verbs] });
  }
  return [...others, ...merged.values()];
}

/** What kube-apiserver requires of whoever sets an aggregationRule: `*` on everything. */
export const FULL_AUTHORITY: Rule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'], resourceNames: [], nonResourceURLs: [] },
  { verbs: ['*'], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: ['*'] },
];

/**
 * RBAC escalation prevention, as kube-apiserver's ConfirmNoEscalation decides it: the rules
 * `user` holds in `namespace` (cluster-wide ones only when it is undefined) must cover every
 * rule granted, literally (validation.Covers). Returns the missing rules in kube-apiserver's
 * compact form, sorted; empty when the write is allowed. Whether `escalate` or `bind` lets the
 * writer skip this check is the caller's decision (it depends on the request's name).
 */
export function ungrantedRules(policy: RbacObjects, user: UserInfo, granted: Rule[], namespace: string | undefined): string[] {
  const owned = userRules(policy, user, namespace);
  const missing = granted.flatMap(breakdown).filter((wanted) => !owned.some((owner) => ruleCovers(owner, wanted)));
  return [...new Set(compact(missing).map(compactString))].sort();
}

/** kube-apiserver's refusal of an escalating write ("… is attempting to grant RBAC permissions not currently held"). */
export function escalationMessage(user: UserInfo, missing: string[]): string {
  return `user ${JSON.stringify(user.name)} (groups=${quoted(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${missing.join('\n')}`;
}

/** rbac.IsOnlyMutatingGCFields: an update that changes only owner references and finalizers is not checked for escalation. */
export function onlyGarbageCollectionFieldsChange(object: KubeObject, old: KubeObject): boolean {
  const comparable = (o: KubeObject): string => {
    const { ownerReferences: _owners, finalizers: _finalizers, managedFields: _managed, resourceVersion: _version, ...metadata } = o.metadata;
    return JSON.stringify({ ...o, metadata });
  };
  return comparable(object) === comparable(old);
}

/** Does a ClusterRole say aggregationRule (with at least one selector)? Setting or changing one needs FULL_AUTHORITY. */
export function hasAggregationRule(role: KubeObject | undefined): boolean {
  const rule = role?.aggregationRule;
  return isJsonObject(rule) && Array.isArray(rule.clusterRoleSelectors) && rule.clusterRoleSelectors.length > 0;
}

/** The rules a binding grants: those of the role it refers to, undefined when that role does not exist. */
export function boundRules(policy: RbacObjects, binding: KubeObject): Rule[] | undefined {
  const role = roleFor(binding.roleRef, binding.metadata.namespace, policy);
  return role ? effectiveRules(role, policy) : undefined;
}

/** The rules that apply to `user` in `namespace` (cluster-wide ones only when undefined), the basic roles every authenticated user has included. */
function userRules(policy: RbacObjects, user: UserInfo, namespace: string | undefined): Rule[] {
  if (user.groups.includes('system:masters')) return FULL_AUTHORITY;
  const rules: Rule[] = [
    { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], resourceNames: [], nonResourceURLs: [] },
    { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], resourceNames: [], nonResourceURLs: [] },
    { verbs: ['get'], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: PUBLIC_URLS },
  ];
  for (const binding of policy.clusterRoleBindings) if (subjectMatches(binding, user)) rules.push(...effectiveRules(roleFor(binding.roleRef, undefined, policy), policy));
  if (namespace === undefined) return rules;
  for (const binding of policy.roleBindings) {
    if (binding.metadata.namespace === namespace && subjectMatches(binding, user)) rules.push(...effectiveRules(roleFor(binding.roleRef, namespace, policy), policy));
  }
  return rules;
}

/** What `kubectl auth can-i --list` shows: the rules that apply to `user` in `namespace`. */
export function rulesFor(policy: RbacObjects, user: UserInfo, namespace: string): { resourceRules: Record<string, string[]>[]; nonResourceRules: Record<string, string[]>[] } {
  const rules = userRules(policy, user, namespace);
  return {
    resourceRules: rules.filter((r) => r.nonResourceURLs.length === 0).map((r) => ({ verbs: r.verbs, apiGroups: r.apiGroups, resources: r.resources, ...(r.resourceNames.length > 0 ? { resourceNames: r.resourceNames } : {}) })),
    nonResourceRules: rules.filter((r) => r.nonResourceURLs.length > 0).map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs })),
  };
}

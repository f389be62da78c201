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

const SELF_REVIEWS = new Set(['authorization.k8s.io/selfsubjectaccessreviews', 'authorization.k8s.io/selfsubjectrulesreviews', 'authentication.k8s.io/selfsubjectreviews']);

interface Rule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function rulesOf(role: KubeObject | undefined): Rule[] {
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

/**
 * RBAC escalation prevention, as kube-apiserver enforces it: a Role or ClusterRole
 * (or a binding to one) may only grant what its writer already holds, unless the writer
 * has `escalate` on roles (or `bind` on the role, for bindings). Returns the rules not
 * held, empty when the write is allowed.
 */
export function ungrantedRules(policy: RbacObjects, user: UserInfo, granted: KubeObject, namespace: string | undefined): string[] {
  const missing: string[] = [];
  for (const rule of effectiveRules(granted, policy)) {
    const held =
      rule.nonResourceURLs.length > 0
        ? rule.nonResourceURLs.every((path) => rule.verbs.every((verb) => authorize(policy, user, { kind: 'nonResource', verb, path })))
        : rule.apiGroups.every((group) =>
            rule.resources.every((resourceText) => {
              const [resource = '', subresource] = resourceText.split('/');
              const names = rule.resourceNames.length > 0 ? rule.resourceNames : [undefined];
              return rule.verbs.every((verb) =>
                names.every((name) =>
                  authorize(policy, user, {
                    kind: 'resource',
                    verb,
                    group,
                    resource,
                    ...(subresource !== undefined ? { subresource } : {}),
                    ...(namespace !== undefined ? { namespace } : {}),
                    ...(name !== undefined ? { name } : {}),
                  }),
                ),
              );
            }),
          );
    if (!held) {
      const parts = [`APIGroups:${JSON.stringify(rule.apiGroups)}`, `Resources:${JSON.stringify(rule.resources)}`, ...(rule.resourceNames.length > 0 ? [`ResourceNames:${JSON.stringify(rule.resourceNames)}`] : []), ...(rule.nonResourceURLs.length > 0 ? [`NonResourceURLs:${JSON.stringify(rule.nonResourceURLs)}`] : []), `Verbs:${JSON.stringify(rule.verbs)}`];
      missing.push(`{${parts.join(', ')}}`);
    }
  }
  return missing;
}

/** The role a binding refers to (for escalation checks on bindings). */
export function boundRole(policy: RbacObjects, binding: KubeObject): KubeObject | undefined {
  return roleFor(binding.roleRef, binding.metadata.namespace, policy);
}

/** What `kubectl auth can-i --list` shows: the rules that apply to `user` in `namespace`. */
export function rulesFor(policy: RbacObjects, user: UserInfo, namespace: string): { resourceRules: Record<string, string[]>[]; nonResourceRules: Record<string, string[]>[] } {
  if (user.groups.includes('system:masters')) {
    return { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }] };
  }
  const rules: Rule[] = [
    { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], resourceNames: [], nonResourceURLs: [] },
    { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], resourceNames: [], nonResourceURLs: [] },
  ];
  for (const binding of policy.clusterRoleBindings) if (subjectMatches(binding, user)) rules.push(...effectiveRules(roleFor(binding.roleRef, undefined, policy), policy));
  for (const binding of policy.roleBindings) {
    if (binding.metadata.namespace === namespace && subjectMatches(binding, user)) rules.push(...effectiveRules(roleFor(binding.roleRef, namespace, policy), policy));
  }
  return {
    resourceRules: rules.filter((r) => r.nonResourceURLs.length === 0).map((r) => ({ verbs: r.verbs, apiGroups: r.apiGroups, resources: r.resources, ...(r.resourceNames.length > 0 ? { resourceNames: r.resourceNames } : {}) })),
    nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/readyz', '/version', '/version/', '/openapi', '/openapi/*'] }, ...rules.filter((r) => r.nonResourceURLs.length > 0).map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs }))],
  };
}

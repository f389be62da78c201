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

function roleFor(ref: unknown, namespace: string | undefined, policy: RbacObjects): KubeObject | undefined {
  if (!isJsonObject(ref)) return undefined;
  if (ref.kind === 'ClusterRole') return policy.clusterRoles.find((r) => r.metadata.name === ref.name);
  if (ref.kind === 'Role') return policy.roles.find((r) => r.metadata.name === ref.name && r.metadata.namespace === namespace);
  return undefined;
}

export function authorize(policy: RbacObjects, user: UserInfo, attrs: RequestAttributes): boolean {
  if (user.groups.includes('system:masters')) return true;
  if (attrs.kind === 'nonResource' && attrs.verb === 'get' && PUBLIC_PATHS.some((p) => p.test(attrs.path))) return true;
  for (const binding of policy.clusterRoleBindings) {
    if (subjectMatches(binding, user) && rulesOf(roleFor(binding.roleRef, undefined, policy)).some((rule) => ruleAllows(rule, attrs))) return true;
  }
  if (attrs.kind === 'resource' && attrs.namespace !== undefined) {
    for (const binding of policy.roleBindings) {
      if (binding.metadata.namespace !== attrs.namespace || !subjectMatches(binding, user)) continue;
      if (rulesOf(roleFor(binding.roleRef, attrs.namespace, policy)).some((rule) => ruleAllows(rule, attrs))) return true;
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

import { expect } from 'chai';
import { authorize, escalationMessage, refusal, rulesOf, ungrantedRules, type RbacObjects, type UserInfo } from '../../../src/localcluster/rbac.ts';
import type { KubeObject } from '../../../src/localcluster/types.ts';

function object(kind: string, name: string, body: Record<string, unknown>, namespace?: string): KubeObject {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name, ...(namespace ? { namespace } : {}) }, ...body };
}

const speaker: UserInfo = { name: 'system:serviceaccount:anchorlb-system:speaker', groups: ['system:serviceaccounts', 'system:serviceaccounts:anchorlb-system', 'system:authenticated'] };

const policy: RbacObjects = {
  clusterRoles: [
    object('ClusterRole', 'speaker', { rules: [{ apiGroups: [''], resources: ['services', 'nodes'], verbs: ['get', 'list', 'watch'] }, { apiGroups: ['anchorlb.io'], resources: ['vipstatuses/status'], verbs: ['patch'] }] }),
    object('ClusterRole', 'lease-reader', { rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['leader'], verbs: ['get'] }] }),
    object('ClusterRole', 'metrics', { rules: [{ nonResourceURLs: ['/metrics*'], verbs: ['get'] }] }),
  ],
  clusterRoleBindings: [object('ClusterRoleBinding', 'speaker', { roleRef: { kind: 'ClusterRole', name: 'speaker' }, subjects: [{ kind: 'ServiceAccount', name: 'speaker', namespace: 'anchorlb-system' }] })],
  roles: [object('Role', 'secrets', { rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['*'] }] }, 'anchorlb-system')],
  roleBindings: [
    object('RoleBinding', 'secrets', { roleRef: { kind: 'Role', name: 'secrets' }, subjects: [{ kind: 'Group', name: 'system:serviceaccounts:anchorlb-system' }] }, 'anchorlb-system'),
    object('RoleBinding', 'leases', { roleRef: { kind: 'ClusterRole', name: 'lease-reader' }, subjects: [{ kind: 'User', name: speaker.name }] }, 'anchorlb-system'),
    object('RoleBinding', 'metrics', { roleRef: { kind: 'ClusterRole', name: 'metrics' }, subjects: [{ kind: 'User', name: speaker.name }] }, 'anchorlb-system'),
  ],
};

function can(verb: string, group: string, resource: string, namespace?: string, extra: { name?: string; subresource?: string } = {}): boolean {
  return authorize(policy, speaker, { kind: 'resource', verb, group, resource, ...(namespace ? { namespace } : {}), ...extra });
}

describe('localcluster RBAC authorization', () => {
  it('allows what bound cluster roles grant, everywhere', () => {
    expect(can('watch', '', 'services', 'web')).to.equal(true);
    expect(can('list', '', 'nodes')).to.equal(true);
    expect(can('patch', 'anchorlb.io', 'vipstatuses', 'web', { subresource: 'status' })).to.equal(true);
  });

  it('refuses other verbs, groups, resources and subresources', () => {
    expect(can('delete', '', 'services', 'web')).to.equal(false);
    expect(can('get', 'apps', 'services', 'web')).to.equal(false);
    expect(can('patch', 'anchorlb.io', 'vipstatuses', 'web')).to.equal(false);
  });

  it('limits role bindings to their namespace, matching groups and users', () => {
    expect(can('create', '', 'secrets', 'anchorlb-system')).to.equal(true);
    expect(can('create', '', 'secrets', 'default')).to.equal(false);
    expect(can('get', 'coordination.k8s.io', 'leases', 'anchorlb-system', { name: 'leader' })).to.equal(true);
    expect(can('get', 'coordination.k8s.io', 'leases', 'anchorlb-system', { name: 'other' })).to.equal(false);
    expect(can('list', 'coordination.k8s.io', 'leases', 'anchorlb-system')).to.equal(false);
  });

  it('lets discovery through for everyone, and masters through for everything', () => {
    expect(authorize(policy, speaker, { kind: 'nonResource', verb: 'get', path: '/apis/apps/v1' })).to.equal(true);
    expect(authorize(policy, speaker, { kind: 'nonResource', verb: 'get', path: '/metrics' })).to.equal(false);
    expect(authorize(policy, { name: 'admin', groups: ['system:masters'] }, { kind: 'resource', verb: 'delete', group: '', resource: 'nodes' })).to.equal(true);
  });

  it('words a refusal as kube-apiserver does', () => {
    expect(refusal(speaker, { kind: 'resource', verb: 'delete', group: '', resource: 'services', namespace: 'web', name: 'x' })).to.equal(
      'services "x" is forbidden: User "system:serviceaccount:anchorlb-system:speaker" cannot delete resource "services" in API group "" in the namespace "web"',
    );
    expect(refusal(speaker, { kind: 'resource', verb: 'list', group: 'apps', resource: 'deployments' })).to.equal(
      'deployments.apps is forbidden: User "system:serviceaccount:anchorlb-system:speaker" cannot list resource "deployments" in API group "apps" at the cluster scope',
    );
  });

  it('names the rules a role would grant beyond what its writer holds', () => {
    const wanted = object('Role', 'wanted', {
      rules: [
        { apiGroups: [''], resources: ['services'], verbs: ['get', 'watch'] },
        { apiGroups: [''], resources: ['services'], verbs: ['delete'] },
        { apiGroups: ['anchorlb.io'], resources: ['vipstatuses/status'], verbs: ['patch'] },
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      ],
    }, 'web');
    expect(ungrantedRules(policy, speaker, rulesOf(wanted), 'web')).to.deep.equal([
      '{APIGroups:[""], Resources:["services"], Verbs:["delete"]}',
      '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}',
    ]);
    expect(ungrantedRules(policy, { name: 'admin', groups: ['system:masters'] }, rulesOf(wanted), 'web')).to.deep.equal([]);
  });

  // validation.Covers: literal coverage of each broken-down rule, in the namespace of the write.
  it('decides escalation by rule coverage, per name and per namespace, as kube-apiserver does', () => {
    const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames: string[] = []) => ({ apiGroups, resources, verbs, resourceNames, nonResourceURLs: [] });
    // A name-limited rule held covers that name only, never the unnamed rule.
    expect(ungrantedRules(policy, speaker, [rule(['coordination.k8s.io'], ['leases'], ['get'], ['leader'])], 'anchorlb-system')).to.deep.equal([]);
    expect(ungrantedRules(policy, speaker, [rule(['coordination.k8s.io'], ['leases'], ['get'])], 'anchorlb-system')).to.deep.equal([
      '{APIGroups:["coordination.k8s.io"], Resources:["leases"], Verbs:["get"]}',
    ]);
    // Rules held through RoleBindings count in their namespace only; a cluster-wide write (a ClusterRole) gets only ClusterRoleBindings'.
    expect(ungrantedRules(policy, speaker, [rule([''], ['secrets'], ['get'])], 'anchorlb-system')).to.deep.equal([]);
    expect(ungrantedRules(policy, speaker, [rule([''], ['secrets'], ['get'])], undefined)).to.deep.equal(['{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}']);
    // Missing verbs of one resource are merged into one rule; non-resource URLs by prefix.
    expect(ungrantedRules(policy, speaker, [rule([''], ['pods'], ['get', 'list']), { ...rule([], [], ['get']), nonResourceURLs: ['/metrics/x', '/debug'] }], 'anchorlb-system')).to.deep.equal([
      '{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
      '{NonResourceURLs:["/debug"], Verbs:["get"]}',
    ]);
  });

  it('words an escalation refusal as kube-apiserver does', () => {
    expect(escalationMessage(speaker, ['{APIGroups:[""], Resources:["pods"], Verbs:["get"]}'])).to.equal(
      'user "system:serviceaccount:anchorlb-system:speaker" (groups=["system:serviceaccounts" "system:serviceaccounts:anchorlb-system" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get"]}',
    );
  });

  it('reads aggregated ClusterRoles as the union of the roles they select', () => {
    const aggregated: RbacObjects = {
      ...policy,
      clusterRoles: [
        object('ClusterRole', 'view', { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'anchorlb.io/aggregate-to-view': 'true' } }] } }),
        { ...object('ClusterRole', 'pools-view', { rules: [{ apiGroups: ['anchorlb.io'], resources: ['ipaddresspools'], verbs: ['get'] }] }), metadata: { name: 'pools-view', labels: { 'anchorlb.io/aggregate-to-view': 'true' } } },
      ],
      clusterRoleBindings: [object('ClusterRoleBinding', 'view', { roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: speaker.name }] })],
    };
    expect(authorize(aggregated, speaker, { kind: 'resource', verb: 'get', group: 'anchorlb.io', resource: 'ipaddresspools', namespace: 'x' })).to.equal(true);
    expect(authorize(aggregated, speaker, { kind: 'resource', verb: 'list', group: 'anchorlb.io', resource: 'ipaddresspools', namespace: 'x' })).to.equal(false);
  });
});

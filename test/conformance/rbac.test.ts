// Authentication by bearer token and authorization by the RBAC objects stored in the server.
// Docs: kubernetes.io/docs/reference/access-authn-authz/rbac/ (Role, ClusterRole, bindings,
// resourceNames), kubernetes.io/docs/reference/access-authn-authz/authentication/ (service account
// tokens, 401 for invalid credentials), kubernetes.io/docs/reference/access-authn-authz/authorization/ (403).
import { expect } from 'chai';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { eventually, field, ignoreNotFound, uniqueName, useConformanceTarget, useTestNamespace } from './support.ts';

describe('conformance: authentication and RBAC', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-rbac');
  const rbac = () => target.api(RbacAuthorizationV1Api);
  const clusterRoleName = uniqueName('conformance-node-reader');
  let reader: KubeConfig;

  before(async function () {
    this.timeout(30_000);
    target.deferCleanup(async () => {
      await ignoreNotFound(rbac().deleteClusterRoleBinding({ name: clusterRoleName }));
      await ignoreNotFound(rbac().deleteClusterRole({ name: clusterRoleName }));
    });
    const core = target.api(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: namespace.name, body: { metadata: { name: 'reader' } } });
    await core.createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'allowed' } } });
    await core.createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'other' } } });
    await core.createNamespacedSecret({ namespace: namespace.name, body: { metadata: { name: 'hidden' }, stringData: { a: 'b' } } });
    await rbac().createNamespacedRole({
      namespace: namespace.name,
      body: {
        metadata: { name: 'configmap-reader' },
        rules: [
          { apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] },
          { apiGroups: [''], resources: ['configmaps'], resourceNames: ['allowed'], verbs: ['get'] },
        ],
      },
    });
    await rbac().createNamespacedRoleBinding({
      namespace: namespace.name,
      body: {
        metadata: { name: 'configmap-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: namespace.name }],
      },
    });
    reader = await target.serviceAccountKubeConfig(namespace.name, 'reader');
  });


  const asReader = (path: string, method = 'GET', body?: unknown) => target.raw(path, { kubeConfig: reader, method, body });

  // A Role bound by a RoleBinding grants its verbs on its resources in its namespace.
  it('allows what a bound Role grants', async () => {
    const response = await eventually('the binding to take effect', async () => {
      const attempt = await asReader(`/api/v1/namespaces/${namespace.name}/configmaps`);
      return attempt.status === 200 ? attempt : undefined;
    });
    const names = (field(response.json, 'items') as unknown[]).map((item) => field(item, 'metadata', 'name'));
    expect(names).to.include.members(['allowed', 'other']);
  });

  // Everything else is denied with 403 and a Forbidden Status naming the user.
  it('forbids other resources, other verbs and other namespaces with 403 Forbidden', async () => {
    const secrets = await asReader(`/api/v1/namespaces/${namespace.name}/secrets`);
    expect(secrets.status).to.equal(403);
    expect(field(secrets.json, 'kind')).to.equal('Status');
    expect(field(secrets.json, 'reason')).to.equal('Forbidden');
    expect(field(secrets.json, 'message')).to.contain(`system:serviceaccount:${namespace.name}:reader`);
    const create = await asReader(`/api/v1/namespaces/${namespace.name}/configmaps`, 'POST', { metadata: { name: 'nope' } });
    expect(create.status).to.equal(403);
    const elsewhere = await asReader('/api/v1/namespaces/default/configmaps');
    expect(elsewhere.status).to.equal(403);
  });

  // resourceNames restricts a rule to the named objects.
  it('limits a rule with resourceNames to those objects', async () => {
    expect((await asReader(`/api/v1/namespaces/${namespace.name}/configmaps/allowed`)).status).to.equal(200);
    expect((await asReader(`/api/v1/namespaces/${namespace.name}/configmaps/other`)).status).to.equal(403);
  });

  // A ClusterRoleBinding grants a ClusterRole cluster-wide (cluster-scoped resources included).
  it('grants cluster-scoped access through a ClusterRoleBinding', async () => {
    expect((await asReader('/api/v1/nodes')).status).to.equal(403);
    await rbac().createClusterRole({ body: { metadata: { name: clusterRoleName }, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }] } });
    await rbac().createClusterRoleBinding({
      body: {
        metadata: { name: clusterRoleName },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRoleName },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: namespace.name }],
      },
    });
    await eventually('the cluster role binding to take effect', async () => ((await asReader('/api/v1/nodes')).status === 200 ? true : undefined));
  });

  // An unknown bearer token is 401 Unauthorized, not anonymous access.
  it('answers an invalid bearer token with 401 Unauthorized', async () => {
    // Only the token: a client certificate of the admin's kubeconfig would authenticate the request first.
    const cluster = target.kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster');
    const tokenOnly = new KubeConfig();
    tokenOnly.loadFromClusterAndUser(cluster, { name: 'invalid-token', token: 'not-a-token-this-server-issued' });
    const response = await target.raw(`/api/v1/namespaces/${namespace.name}/configmaps`, { kubeConfig: tokenOnly });
    expect(response.status).to.equal(401);
    expect(field(response.json, 'reason')).to.equal('Unauthorized');
  });
});

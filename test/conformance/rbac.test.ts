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

// Privilege escalation prevention and the verbs resourceNames can restrict.
// Docs: kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
// ("Restrictions on role creation or update", "Restrictions on role binding creation or update"),
// kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources ("You cannot restrict
// create or deletecollection requests by their resource name … If you restrict list or watch by
// resourceName, clients must include a metadata.name field selector").
describe('conformance: RBAC escalation checks and resourceNames per verb', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-escalate');
  const rbac = () => target.api(RbacAuthorizationV1Api);
  const bindable = uniqueName('conformance-bindable');
  const unbindable = uniqueName('conformance-unbindable');
  const clusterManager = uniqueName('conformance-cluster-manager');
  const rolesPath = () => `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace.name}/roles`;
  const bindingsPath = () => `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace.name}/rolebindings`;
  const configMapsPath = () => `/api/v1/namespaces/${namespace.name}/configmaps`;
  const secretsGet = { apiGroups: [''], resources: ['secrets'], verbs: ['get'] };
  let manager: KubeConfig;
  let named: KubeConfig;

  const bindRole = async (role: string, kind: 'Role' | 'ClusterRole', account: string) =>
    rbac().createNamespacedRoleBinding({
      namespace: namespace.name,
      body: { metadata: { name: `${account}-${role}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind, name: role }, subjects: [{ kind: 'ServiceAccount', name: account, namespace: namespace.name }] },
    });

  before(async function () {
    this.timeout(30_000);
    target.deferCleanup(async () => {
      for (const name of [bindable, unbindable, clusterManager]) await ignoreNotFound(rbac().deleteClusterRole({ name }));
      await ignoreNotFound(rbac().deleteClusterRoleBinding({ name: clusterManager }));
    });
    const core = target.api(CoreV1Api);
    for (const account of ['manager', 'named']) await core.createNamespacedServiceAccount({ namespace: namespace.name, body: { metadata: { name: account } } });
    await core.createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'allowed' } } });
    // manager: manages roles and bindings here, reads configmaps, may escalate only the role "escalatable",
    // may bind only the ClusterRole `bindable`; cluster-wide it may create ClusterRoles.
    await rbac().createNamespacedRole({
      namespace: namespace.name,
      body: {
        metadata: { name: 'manager' },
        rules: [
          { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: ['get', 'create', 'update'] },
          { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
          { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], resourceNames: ['escalatable'], verbs: ['escalate'] },
          { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], resourceNames: [bindable], verbs: ['bind'] },
        ],
      },
    });
    await bindRole('manager', 'Role', 'manager');
    for (const name of [bindable, unbindable]) await rbac().createClusterRole({ body: { metadata: { name }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }] } });
    await rbac().createClusterRole({ body: { metadata: { name: clusterManager }, rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['create'] }] } });
    await rbac().createClusterRoleBinding({
      body: { metadata: { name: clusterManager }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterManager }, subjects: [{ kind: 'ServiceAccount', name: 'manager', namespace: namespace.name }] },
    });
    // named: every verb on configmaps, but only on the one named "allowed".
    await rbac().createNamespacedRole({
      namespace: namespace.name,
      body: { metadata: { name: 'named' }, rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['allowed'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete', 'deletecollection'] }] },
    });
    await bindRole('named', 'Role', 'named');
    manager = await target.serviceAccountKubeConfig(namespace.name, 'manager');
    named = await target.serviceAccountKubeConfig(namespace.name, 'named');
    await eventually('the bindings to take effect', async () => ((await target.raw(`${configMapsPath()}/allowed`, { kubeConfig: named })).status === 200 ? true : undefined));
  });

  const asManager = (path: string, method: string, body?: unknown) => target.raw(path, { kubeConfig: manager, method, body });
  const asNamed = (path: string, method = 'GET', body?: unknown) => target.raw(path, { kubeConfig: named, method, body });
  const role = (name: string, rules: unknown[]) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name }, rules });

  // "You can only create/update a role if … you already have all the permissions contained in the role."
  it('lets a writer create a role with permissions it holds, and refuses one with more, naming them', async () => {
    expect((await asManager(rolesPath(), 'POST', role('within', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]))).status).to.equal(201);
    const beyond = await asManager(rolesPath(), 'POST', role('beyond', [secretsGet]));
    expect(beyond.status).to.equal(403);
    expect(field(beyond.json, 'reason')).to.equal('Forbidden');
    const message = String(field(beyond.json, 'message'));
    expect(message).to.contain(`roles.rbac.authorization.k8s.io "beyond" is forbidden: user "system:serviceaccount:${namespace.name}:manager"`);
    expect(message).to.contain('is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}');
  });

  // "… or you are granted explicit permission to perform the escalate verb": a create has no name, so
  // an escalate limited by resourceNames never allows creating the role, only updating it.
  it('checks escalate without a name on a create, with the name on an update', async () => {
    const create = await asManager(rolesPath(), 'POST', role('escalatable', [secretsGet]));
    expect(create.status, create.text).to.equal(403);
    expect(String(field(create.json, 'message'))).to.contain('is attempting to grant RBAC permissions not currently held');
    await rbac().createNamespacedRole({ namespace: namespace.name, body: { metadata: { name: 'escalatable' }, rules: [] } });
    const update = await asManager(`${rolesPath()}/escalatable`, 'PUT', role('escalatable', [secretsGet]));
    expect(update.status, update.text).to.equal(200);
    expect(field(update.json, 'rules')).to.deep.equal([secretsGet]);
  });

  // "You can only create/update a role binding if you already have all the permissions contained in the
  // referenced role … or if you have been authorized to perform the bind verb on the referenced role."
  it('lets bind on a named role bind that role only', async () => {
    const binding = (name: string, roleName: string) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
      subjects: [{ kind: 'ServiceAccount', name: 'named', namespace: namespace.name }],
    });
    const allowed = await asManager(bindingsPath(), 'POST', binding('to-bindable', bindable));
    expect(allowed.status, allowed.text).to.equal(201);
    const refused = await asManager(bindingsPath(), 'POST', binding('to-unbindable', unbindable));
    expect(refused.status, refused.text).to.equal(403);
    expect(String(field(refused.json, 'message'))).to.contain('is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["list"]}');
  });

  // An aggregationRule can gather anything, so setting one takes every permission (kube-apiserver's
  // ClusterRole storage: "must have cluster-admin privileges to use the aggregationRule").
  it('refuses a ClusterRole with an aggregationRule from a writer without every permission', async () => {
    const name = uniqueName('conformance-aggregated');
    target.deferCleanup(() => ignoreNotFound(rbac().deleteClusterRole({ name })));
    const response = await asManager('/apis/rbac.authorization.k8s.io/v1/clusterroles', 'POST', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [`conformance.anchorlb.io/${name}`]: 'true' } }] },
      rules: [],
    });
    expect(response.status, response.text).to.equal(403);
    expect(String(field(response.json, 'message'))).to.contain('must have cluster-admin privileges to use the aggregationRule');
  });

  // resourceNames cannot restrict create or deletecollection; list and watch only with a name field selector.
  it('applies resourceNames per verb: never to create or deletecollection, to list only with a metadata.name field selector', async () => {
    expect((await asNamed(`${configMapsPath()}/allowed`)).status).to.equal(200);
    expect((await asNamed(configMapsPath(), 'POST', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'allowed' } })).status).to.equal(403);
    expect((await asNamed(configMapsPath())).status).to.equal(403);
    const listed = await asNamed(`${configMapsPath()}?fieldSelector=metadata.name%3Dallowed`);
    expect(listed.status, listed.text).to.equal(200);
    expect((field(listed.json, 'items') as unknown[]).map((item) => field(item, 'metadata', 'name'))).to.deep.equal(['allowed']);
    expect((await asNamed(`${configMapsPath()}?fieldSelector=metadata.name%3Dallowed`, 'DELETE')).status).to.equal(403);
    expect((await target.raw(`${configMapsPath()}/allowed`)).status, 'the ConfigMap is still there').to.equal(200);
  });
});

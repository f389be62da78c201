// Built-in resources anchorlb reads or writes: create/read/list/update/delete, plus the
// behaviours each one's API reference documents (status subresources, generation, stringData,
// events in both groups, namespace deletion).
// Docs: kubernetes.io/docs/reference/kubernetes-api/ (per-kind pages),
// kubernetes.io/docs/concepts/overview/working-with-objects/ (namespaces, object spec and status).
import { expect } from 'chai';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { eventually, field, ignoreNotFound, uniqueName, useConformanceTarget, useTestNamespace } from './support.ts';

// MicroTime fields (event eventTime, lease renewTime) carry microseconds.
const MICRO_TIME = '2024-01-02T03:04:05.123456Z';

describe('conformance: built-in resources', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-builtin');
  const core = () => target.api(CoreV1Api);
  const apps = () => target.api(AppsV1Api);

  it('round-trips a node and its status subresource', async () => {
    const name = uniqueName('conformance-node');
    try {
      const created = await core().createNode({ body: { metadata: { name, labels: { 'conformance.anchorlb.io/suite': 'true' } } } });
      expect(created.metadata?.namespace).to.equal(undefined);
      await core().patchNodeStatus({
        name,
        body: [{ op: 'add', path: '/status', value: { addresses: [{ type: 'InternalIP', address: '192.0.2.21' }] } }],
      });
      const read = await core().readNode({ name });
      expect(read.status?.addresses?.[0]?.address).to.equal('192.0.2.21');
      const listed = await core().listNode({ labelSelector: 'conformance.anchorlb.io/suite=true' });
      expect(listed.items.map((node) => node.metadata?.name)).to.include(name);
    } finally {
      await ignoreNotFound(core().deleteNode({ name }));
    }
  });

  it('round-trips endpoints, service accounts and config maps', async () => {
    const endpoints = await core().createNamespacedEndpoints({
      namespace: namespace.name,
      body: { metadata: { name: 'web' }, subsets: [{ addresses: [{ ip: '192.0.2.31' }], ports: [{ port: 8080, protocol: 'TCP' }] }] },
    });
    expect(endpoints.subsets?.[0]?.addresses?.[0]?.ip).to.equal('192.0.2.31');
    const account = await core().createNamespacedServiceAccount({ namespace: namespace.name, body: { metadata: { name: 'robot' } } });
    expect(account.metadata?.uid).to.be.a('string');
    const listed = await core().listNamespacedServiceAccount({ namespace: namespace.name });
    expect(listed.items.map((item) => item.metadata?.name)).to.include('robot');
    await core().deleteNamespacedEndpoints({ namespace: namespace.name, name: 'web' });
    expect((await target.raw(`/api/v1/namespaces/${namespace.name}/endpoints/web`)).status).to.equal(404);
  });

  // Secret: stringData is write-only; the server merges it into data as base64.
  it('merges secret stringData into base64 data', async () => {
    const created = await core().createNamespacedSecret({
      namespace: namespace.name,
      body: { metadata: { name: 'creds' }, type: 'Opaque', stringData: { password: 'hunter2' }, data: { user: Buffer.from('admin').toString('base64') } },
    });
    expect(created.data?.password).to.equal(Buffer.from('hunter2').toString('base64'));
    expect(created.data?.user).to.equal(Buffer.from('admin').toString('base64'));
    expect(created.stringData).to.equal(undefined);
  });

  it('round-trips a pod', async () => {
    const created = await core().createNamespacedPod({
      namespace: namespace.name,
      body: { metadata: { name: 'pod' }, spec: { nodeName: 'conformance-nowhere', containers: [{ name: 'main', image: 'registry.invalid/none:1' }] } },
    });
    expect(created.spec?.containers[0]?.name).to.equal('main');
    const read = await core().readNamespacedPod({ namespace: namespace.name, name: 'pod' });
    expect(read.metadata?.uid).to.equal(created.metadata?.uid);
  });

  // events.k8s.io/v1 and core/v1 Events are two views of one resource: regarding = involvedObject.
  it('serves an events.k8s.io event through the core events API too', async () => {
    const subject = await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'event-subject' } } });
    // Written raw: eventTime is a MicroTime (six fractional digits), which client-node's Date would not give.
    const created = await target.raw(`/apis/events.k8s.io/v1/namespaces/${namespace.name}/events`, {
      method: 'POST',
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: 'new-style' },
        eventTime: MICRO_TIME,
        reportingController: 'anchorlb.io/conformance',
        reportingInstance: 'conformance-1',
        action: 'Check',
        reason: 'ConformanceCheck',
        note: 'written through events.k8s.io/v1',
        type: 'Normal',
        regarding: { apiVersion: 'v1', kind: 'ConfigMap', name: 'event-subject', namespace: namespace.name, uid: subject.metadata?.uid },
      },
    });
    expect(created.status, created.text).to.equal(201);
    const coreView = await core().readNamespacedEvent({ namespace: namespace.name, name: 'new-style' });
    expect(coreView.involvedObject.name).to.equal('event-subject');
    expect(coreView.involvedObject.uid).to.equal(subject.metadata?.uid);
    expect(coreView.reason).to.equal('ConformanceCheck');
    expect(coreView.message).to.equal('written through events.k8s.io/v1');
  });

  it('round-trips a lease and refuses a stale update of it', async () => {
    const leasesPath = `/apis/coordination.k8s.io/v1/namespaces/${namespace.name}/leases`;
    const created = await target.raw(leasesPath, {
      method: 'POST',
      body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'node-a', leaseDurationSeconds: 15, renewTime: MICRO_TIME } },
    });
    expect(created.status, created.text).to.equal(201);
    expect(field(created.json, 'spec', 'renewTime')).to.equal(MICRO_TIME);
    const lease = created.json as { spec: Record<string, unknown> };
    const renewed = await target.raw(`${leasesPath}/leader`, { method: 'PUT', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'node-b' } } });
    expect(renewed.status, renewed.text).to.equal(200);
    const read = await target.api(CoordinationV1Api).readNamespacedLease({ namespace: namespace.name, name: 'leader' });
    expect(read.spec?.holderIdentity).to.equal('node-b');
    // The first version again: its resourceVersion is stale now.
    const stale = await target.raw(`${leasesPath}/leader`, { method: 'PUT', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'node-c' } } });
    expect(stale.status).to.equal(409);
  });

  it('round-trips an endpoint slice and validates its addressType', async () => {
    const discovery = target.api(DiscoveryV1Api);
    const created = await discovery.createNamespacedEndpointSlice({
      namespace: namespace.name,
      body: {
        metadata: { name: 'web-abcde', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['192.0.2.41'], conditions: { ready: true }, nodeName: 'node-a' }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    });
    expect(created.endpoints[0]?.conditions?.ready).to.equal(true);
    const bySelector = await discovery.listNamespacedEndpointSlice({ namespace: namespace.name, labelSelector: 'kubernetes.io/service-name=web' });
    expect(bySelector.items).to.have.lengthOf(1);
    const invalid = await target.raw(`/apis/discovery.k8s.io/v1/namespaces/${namespace.name}/endpointslices`, {
      method: 'POST',
      body: { metadata: { name: 'bad' }, addressType: 'IPv5', endpoints: [] },
    });
    expect(invalid.status).to.equal(422);
  });

  // metadata.generation increases on spec changes only; the status subresource does not bump it.
  it('bumps deployment generation on spec writes, not on status writes', async () => {
    const created = await apps().createNamespacedDeployment({
      namespace: namespace.name,
      body: {
        metadata: { name: 'generation' },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'generation' } },
          template: { metadata: { labels: { app: 'generation' } }, spec: { containers: [{ name: 'main', image: 'registry.invalid/a:1' }] } },
        },
      },
    });
    expect(created.metadata?.generation).to.equal(1);
    const respecced = await apps().patchNamespacedDeployment({
      namespace: namespace.name,
      name: 'generation',
      body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'registry.invalid/a:2' }],
    });
    expect(respecced.metadata?.generation).to.equal(2);
    const statusWrite = await apps().patchNamespacedDeploymentStatus({
      namespace: namespace.name,
      name: 'generation',
      body: [{ op: 'add', path: '/status', value: { observedGeneration: 2, replicas: 0 } }],
    });
    expect(statusWrite.metadata?.generation).to.equal(2);
  });

  // A DaemonSet whose node selector matches no node: the status subresource takes writes.
  it('round-trips a daemon set and its status subresource', async () => {
    await apps().createNamespacedDaemonSet({
      namespace: namespace.name,
      body: {
        metadata: { name: 'speaker' },
        spec: {
          selector: { matchLabels: { app: 'speaker' } },
          template: {
            metadata: { labels: { app: 'speaker' } },
            spec: { nodeSelector: { 'conformance.anchorlb.io/no-such-node': 'true' }, containers: [{ name: 'speaker', image: 'registry.invalid/s:1' }] },
          },
        },
      },
    });
    const status = await target.raw(`/apis/apps/v1/namespaces/${namespace.name}/daemonsets/speaker/status`);
    expect(status.status).to.equal(200);
    expect(field(status.json, 'kind')).to.equal('DaemonSet');
    await apps().deleteNamespacedDaemonSet({ namespace: namespace.name, name: 'speaker' });
  });

  it('round-trips the RBAC kinds', async () => {
    const rbac = target.api(RbacAuthorizationV1Api);
    const clusterName = uniqueName('conformance-reader');
    try {
      await rbac.createNamespacedRole({
        namespace: namespace.name,
        body: { metadata: { name: 'reader' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }] },
      });
      await rbac.createNamespacedRoleBinding({
        namespace: namespace.name,
        body: {
          metadata: { name: 'reader' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
          subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: namespace.name }],
        },
      });
      await rbac.createClusterRole({ body: { metadata: { name: clusterName }, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }] } });
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: clusterName },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
          subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: namespace.name }],
        },
      });
      expect((await rbac.readNamespacedRole({ namespace: namespace.name, name: 'reader' })).rules?.[0]?.resources).to.deep.equal(['configmaps']);
      expect((await rbac.readClusterRoleBinding({ name: clusterName })).roleRef.name).to.equal(clusterName);
      // roleRef is immutable.
      const binding = await rbac.readNamespacedRoleBinding({ namespace: namespace.name, name: 'reader' });
      const changed = await target.raw(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace.name}/rolebindings/reader`, {
        method: 'PUT',
        body: { ...binding, roleRef: { ...binding.roleRef, name: 'someone-else' } },
      });
      expect(changed.status).to.equal(422);
    } finally {
      await ignoreNotFound(rbac.deleteClusterRoleBinding({ name: clusterName }));
      await ignoreNotFound(rbac.deleteClusterRole({ name: clusterName }));
    }
  });

  // Objects in a namespace cannot be created without it, and deleting a namespace deletes its content.
  it('refuses objects in a missing namespace and empties a deleted namespace', async function () {
    this.timeout(70_000);
    const missing = await target.raw(`/api/v1/namespaces/${uniqueName('conf-missing')}/configmaps`, {
      method: 'POST',
      body: { metadata: { name: 'orphan' } },
    });
    expect(missing.status).to.equal(404);
    const doomed = uniqueName('conf-doomed');
    await core().createNamespace({ body: { metadata: { name: doomed } } });
    await core().createNamespacedConfigMap({ namespace: doomed, body: { metadata: { name: 'content' } } });
    await core().deleteNamespace({ name: doomed });
    await eventually('the namespace and its content to be gone', async () => {
      const namespaceGone = (await target.raw(`/api/v1/namespaces/${doomed}`)).status === 404;
      return namespaceGone ? true : undefined;
    }, 60_000);
    const content = await target.raw(`/api/v1/namespaces/${doomed}/configmaps/content`);
    expect(content.status).to.equal(404);
  });
});

// Patches: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.
// Docs: kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/ ,
// kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply ,
// the API reference's "Patch strategy: merge on key ..." notes for containers, ports, env,
// volumes and conditions.
import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { field, useConformanceTarget, useTestNamespace, type RawResponse } from './support.ts';

describe('conformance: patches', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-patch');
  const core = () => target.api(CoreV1Api);
  const apps = () => target.api(AppsV1Api);

  async function patch(path: string, contentType: string, body: unknown): Promise<RawResponse> {
    const response = await target.raw(path, { method: 'PATCH', headers: { 'Content-Type': contentType }, body });
    expect(response.status, response.text).to.equal(200);
    return response;
  }

  function deployment(name: string): V1Deployment {
    return {
      metadata: { name },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [
              {
                name: 'main',
                image: 'registry.invalid/main:1',
                ports: [{ containerPort: 80, name: 'http' }],
                env: [{ name: 'A', value: '1' }],
                volumeMounts: [{ name: 'config', mountPath: '/config' }],
              },
            ],
            volumes: [{ name: 'config', emptyDir: {} }],
          },
        },
      },
    };
  }

  const containerNames = (body: unknown) =>
    (field(body, 'spec', 'template', 'spec', 'containers') as unknown[]).map((container) => field(container, 'name'));

  it('applies a JSON patch (add, replace, remove) in order', async () => {
    await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'json' }, data: { a: '1', b: '2' } } });
    const response = await patch(`/api/v1/namespaces/${namespace.name}/configmaps/json`, 'application/json-patch+json', [
      { op: 'add', path: '/data/c', value: '3' },
      { op: 'replace', path: '/data/a', value: 'one' },
      { op: 'remove', path: '/data/b' },
    ]);
    expect(field(response.json, 'data')).to.deep.equal({ a: 'one', c: '3' });
  });

  it('rejects a JSON patch whose test operation fails, leaving the object unchanged', async () => {
    await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'json-test' }, data: { a: '1' } } });
    const response = await target.raw(`/api/v1/namespaces/${namespace.name}/configmaps/json-test`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: [
        { op: 'test', path: '/data/a', value: 'not-1' },
        { op: 'replace', path: '/data/a', value: '2' },
      ],
    });
    expect(response.status).to.be.within(400, 499);
    const unchanged = await core().readNamespacedConfigMap({ namespace: namespace.name, name: 'json-test' });
    expect(unchanged.data).to.deep.equal({ a: '1' });
  });

  // Merge patch: maps merge, null deletes a key, lists are replaced whole.
  it('applies a merge patch: null removes keys, lists are replaced', async () => {
    await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'merge' }, data: { a: '1', b: '2' } } });
    const merged = await patch(`/api/v1/namespaces/${namespace.name}/configmaps/merge`, 'application/merge-patch+json', {
      data: { a: null, c: '3' },
    });
    expect(field(merged.json, 'data')).to.deep.equal({ b: '2', c: '3' });

    await apps().createNamespacedDeployment({ namespace: namespace.name, body: deployment('merge-deploy') });
    const replaced = await patch(`/apis/apps/v1/namespaces/${namespace.name}/deployments/merge-deploy`, 'application/merge-patch+json', {
      spec: { template: { spec: { containers: [{ name: 'only', image: 'registry.invalid/only:1' }] } } },
    });
    expect(containerNames(replaced.json)).to.deep.equal(['only']);
  });

  // Strategic merge patch: containers merge on name, ports on containerPort, env and volumes on name.
  it('merges containers, ports, env and volumes by their keys in a strategic merge patch', async () => {
    await apps().createNamespacedDeployment({ namespace: namespace.name, body: deployment('smp') });
    const path = `/apis/apps/v1/namespaces/${namespace.name}/deployments/smp`;
    const response = await patch(path, 'application/strategic-merge-patch+json', {
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'main', env: [{ name: 'B', value: '2' }], ports: [{ containerPort: 443, name: 'https' }] },
              { name: 'sidecar', image: 'registry.invalid/sidecar:1' },
            ],
            volumes: [{ name: 'scratch', emptyDir: {} }],
          },
        },
      },
    });
    const podSpec = field(response.json, 'spec', 'template', 'spec');
    expect(containerNames(response.json)).to.deep.equal(['main', 'sidecar']);
    const main = field(podSpec, 'containers', 0);
    expect(field(main, 'image')).to.equal('registry.invalid/main:1');
    expect((field(main, 'env') as unknown[]).map((env) => field(env, 'name')).sort()).to.deep.equal(['A', 'B']);
    expect((field(main, 'ports') as unknown[]).map((port) => field(port, 'containerPort')).sort()).to.deep.equal([443, 80]);
    expect((field(podSpec, 'volumes') as unknown[]).map((volume) => field(volume, 'name')).sort()).to.deep.equal(['config', 'scratch']);

    // The $patch: delete directive removes one list element by its key.
    const trimmed = await patch(path, 'application/strategic-merge-patch+json', {
      spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } },
    });
    expect(containerNames(trimmed.json)).to.deep.equal(['main']);
  });

  // Service ports merge on port.
  it('merges service ports by port number in a strategic merge patch', async () => {
    await core().createNamespacedService({
      namespace: namespace.name,
      body: { metadata: { name: 'ports' }, spec: { selector: { app: 'ports' }, ports: [{ name: 'http', port: 80, targetPort: 80 }] } },
    });
    const path = `/api/v1/namespaces/${namespace.name}/services/ports`;
    await patch(path, 'application/strategic-merge-patch+json', { spec: { ports: [{ name: 'https', port: 443, targetPort: 8443 }] } });
    const updated = await patch(path, 'application/strategic-merge-patch+json', { spec: { ports: [{ port: 80, targetPort: 8080 }] } });
    const ports = (field(updated.json, 'spec', 'ports') as unknown[]).map((port) => `${String(field(port, 'name'))}:${String(field(port, 'port'))}->${String(field(port, 'targetPort'))}`);
    expect(ports.sort()).to.deep.equal(['http:80->8080', 'https:443->8443']);
  });

  // Conditions merge on type (Service status conditions are a map keyed by type).
  it('merges status conditions by type in a strategic merge patch of services/status', async () => {
    await core().createNamespacedService({
      namespace: namespace.name,
      body: { metadata: { name: 'conditions' }, spec: { ports: [{ port: 80 }] } },
    });
    const path = `/api/v1/namespaces/${namespace.name}/services/conditions/status`;
    const condition = (type: string, status: string) => ({
      type,
      status,
      reason: 'ConformanceCheck',
      message: `${type} is ${status}`,
      lastTransitionTime: '2024-01-01T00:00:00Z',
    });
    await patch(path, 'application/strategic-merge-patch+json', { status: { conditions: [condition('Alpha', 'True')] } });
    await patch(path, 'application/strategic-merge-patch+json', { status: { conditions: [condition('Beta', 'True')] } });
    const updated = await patch(path, 'application/strategic-merge-patch+json', { status: { conditions: [condition('Alpha', 'False')] } });
    const conditions = field(updated.json, 'status', 'conditions') as unknown[];
    const byType = Object.fromEntries(conditions.map((entry) => [field(entry, 'type'), field(entry, 'status')]));
    expect(byType).to.deep.equal({ Alpha: 'False', Beta: 'True' });
  });

  it('rejects an unsupported patch content type with 415', async () => {
    await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'media' }, data: {} } });
    const response = await target.raw(`/api/v1/namespaces/${namespace.name}/configmaps/media`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'text/plain' },
      body: 'data: {}',
    });
    expect(response.status).to.equal(415);
  });
});

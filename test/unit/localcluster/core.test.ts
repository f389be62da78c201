import { expect } from 'chai';
import { ApiCore } from '../../../src/localcluster/core.ts';
import { ApiError } from '../../../src/localcluster/errors.ts';
import type { KubeObject } from '../../../src/localcluster/types.ts';

function errorOf(action: () => unknown): ApiError {
  try {
    action();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.anchorlb.io' },
  spec: {
    group: 'example.anchorlb.io',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wdg'] },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: 'Size', type: 'integer', jsonPath: '.spec.size' }],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', required: ['size'], properties: { size: { type: 'integer', maximum: 10 }, color: { type: 'string', default: 'red' } } },
              status: { type: 'object', properties: { phase: { type: 'string' } } },
            },
          },
        },
      },
    ],
  },
};

describe('localcluster ApiCore object semantics', () => {
  let core: ApiCore;
  const configMaps = () => core.resource('', 'v1', 'configmaps');
  const deployments = () => core.resource('apps', 'v1', 'deployments');
  const flushGc = () => new Promise((resolve) => setImmediate(resolve));

  beforeEach(() => {
    core = new ApiCore();
  });

  it('starts with the standard namespaces, each with a default service account, and the kubernetes Service', () => {
    expect(core.list(core.resource('', 'v1', 'namespaces'), undefined).map((n) => n.metadata.name)).to.deep.equal(['default', 'kube-node-lease', 'kube-public', 'kube-system']);
    expect(core.get(core.resource('', 'v1', 'serviceaccounts'), 'kube-system', 'default').metadata.uid).to.be.a('string');
    expect((core.get(core.resource('', 'v1', 'services'), 'default', 'kubernetes').spec as Record<string, unknown>).clusterIP).to.equal('10.96.0.1');
  });

  it('fills uid, creationTimestamp and a name from generateName, and refuses duplicates with AlreadyExists', () => {
    const created = core.create(configMaps(), 'default', { metadata: { generateName: 'cm-' }, data: { a: '1' } });
    expect(created.metadata.name).to.match(/^cm-[a-z0-9]{5}$/);
    expect(created.metadata.uid).to.match(/^[0-9a-f-]{36}$/);
    expect(created.metadata.creationTimestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const duplicate = errorOf(() => core.create(configMaps(), 'default', { metadata: { name: created.metadata.name } }));
    expect([duplicate.code, duplicate.reason]).to.deep.equal([409, 'AlreadyExists']);
    expect(duplicate.message).to.equal(`configmaps "${String(created.metadata.name)}" already exists`);
  });

  it('refuses a missing namespace, a bad name and a kind mismatch', () => {
    expect(errorOf(() => core.create(configMaps(), 'nowhere', { metadata: { name: 'a' } })).message).to.equal('namespaces "nowhere" not found');
    const badName = errorOf(() => core.create(configMaps(), 'default', { metadata: { name: 'Bad_Name' } }));
    expect([badName.code, badName.details?.causes?.[0]?.field]).to.deep.equal([422, 'metadata.name']);
    expect(errorOf(() => core.create(configMaps(), 'default', { kind: 'Secret', metadata: { name: 'a' } })).code).to.equal(400);
  });

  it('refuses a stale update with 409 Conflict and skips writes that change nothing', () => {
    const created = core.create(configMaps(), 'default', { metadata: { name: 'a' }, data: { v: '1' } });
    const updated = core.update(configMaps(), 'default', 'a', { ...created, data: { v: '2' } }, undefined);
    expect(Number(updated.metadata.resourceVersion)).to.be.greaterThan(Number(created.metadata.resourceVersion));
    const stale = errorOf(() => core.update(configMaps(), 'default', 'a', { ...created, data: { v: '3' } }, undefined));
    expect([stale.code, stale.reason]).to.deep.equal([409, 'Conflict']);
    const again = core.update(configMaps(), 'default', 'a', updated, undefined);
    expect(again.metadata.resourceVersion).to.equal(updated.metadata.resourceVersion);
  });

  it('separates spec and status writes and bumps generation on spec changes only', () => {
    const body = { metadata: { name: 'web' }, spec: { replicas: 1, selector: {}, template: {} }, status: { readyReplicas: 9 } };
    const created = core.create(deployments(), 'default', body);
    expect(created.status).to.equal(undefined);
    expect(created.metadata.generation).to.equal(1);
    const withStatus = core.update(deployments(), 'default', 'web', { ...created, spec: { replicas: 5 }, status: { readyReplicas: 1 } }, 'status');
    expect([withStatus.metadata.generation, (withStatus.spec as { replicas: number }).replicas, (withStatus.status as { readyReplicas: number }).readyReplicas]).to.deep.equal([1, 1, 1]);
    const specWrite = core.update(deployments(), 'default', 'web', { ...withStatus, spec: { replicas: 3 }, status: { readyReplicas: 0 } }, undefined);
    expect([specWrite.metadata.generation, (specWrite.status as { readyReplicas: number }).readyReplicas]).to.deep.equal([2, 1]);
  });

  it('keeps an object with finalizers until they are removed, refusing new ones meanwhile', () => {
    core.create(configMaps(), 'default', { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    const marked = core.delete(configMaps(), 'default', 'held');
    expect(marked.metadata.deletionTimestamp).to.be.a('string');
    const added = errorOf(() => core.update(configMaps(), 'default', 'held', { ...marked, metadata: { ...marked.metadata, finalizers: ['example.com/hold', 'late'] } }, undefined));
    expect([added.code, added.details?.causes?.[0]?.field]).to.deep.equal([422, 'metadata.finalizers']);
    core.update(configMaps(), 'default', 'held', { ...marked, metadata: { ...marked.metadata, finalizers: [] } }, undefined);
    expect(errorOf(() => core.get(configMaps(), 'default', 'held')).code).to.equal(404);
  });

  function ownedConfigMap(name: string, owner: KubeObject, block = false): void {
    core.create(configMaps(), 'default', {
      metadata: { name, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: owner.metadata.name, uid: owner.metadata.uid, blockOwnerDeletion: block }] },
    });
  }

  it('collects dependents of a deleted owner in the background', async () => {
    const owner = core.create(deployments(), 'default', { metadata: { name: 'owner' }, spec: {} });
    ownedConfigMap('child', owner);
    core.delete(deployments(), 'default', 'owner');
    await flushGc();
    expect(errorOf(() => core.get(configMaps(), 'default', 'child')).code).to.equal(404);
  });

  it('deletes the owner last under foreground propagation, and orphans dependents under Orphan', async () => {
    const owner = core.create(deployments(), 'default', { metadata: { name: 'fg' }, spec: {} });
    core.create(configMaps(), 'default', { metadata: { name: 'blocker', finalizers: ['example.com/hold'], ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'fg', uid: owner.metadata.uid, blockOwnerDeletion: true }] } });
    core.delete(deployments(), 'default', 'fg', { propagationPolicy: 'Foreground' });
    await flushGc();
    expect(core.get(deployments(), 'default', 'fg').metadata.finalizers).to.deep.equal(['foregroundDeletion']);
    const blocker = core.get(configMaps(), 'default', 'blocker');
    expect(blocker.metadata.deletionTimestamp).to.be.a('string');
    core.update(configMaps(), 'default', 'blocker', { ...blocker, metadata: { ...blocker.metadata, finalizers: [] } }, undefined);
    await flushGc();
    await flushGc();
    expect(errorOf(() => core.get(deployments(), 'default', 'fg')).code).to.equal(404);

    const parent = core.create(deployments(), 'default', { metadata: { name: 'parent' }, spec: {} });
    ownedConfigMap('orphan', parent);
    core.delete(deployments(), 'default', 'parent', { propagationPolicy: 'Orphan' });
    await flushGc();
    expect(core.get(configMaps(), 'default', 'orphan').metadata.ownerReferences).to.equal(undefined);
    expect(errorOf(() => core.get(deployments(), 'default', 'parent')).code).to.equal(404);
  });

  it('empties a deleted namespace, then removes it', async () => {
    const namespaces = core.resource('', 'v1', 'namespaces');
    core.create(namespaces, undefined, { metadata: { name: 'doomed' } });
    core.create(configMaps(), 'doomed', { metadata: { name: 'a' } });
    const terminating = core.delete(namespaces, undefined, 'doomed');
    expect((terminating.status as { phase: string }).phase).to.equal('Terminating');
    expect(errorOf(() => core.create(configMaps(), 'doomed', { metadata: { name: 'b' } })).code).to.equal(403);
    await flushGc();
    expect(errorOf(() => core.get(namespaces, undefined, 'doomed')).code).to.equal(404);
    expect(core.list(configMaps(), 'doomed')).to.deep.equal([]);
  });

  it('serves a CRD\'s resource once created: defaults, prunes and validates its objects, and removes them with it', () => {
    const crds = core.resource('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
    const crd = core.create(crds, undefined, widgetCrd);
    expect((crd.status as { conditions: { type: string; status: string }[] }).conditions.map((c) => `${c.type}=${c.status}`)).to.include('Established=True');
    const widgets = core.resource('example.anchorlb.io', 'v1', 'widgets');
    expect([widgets.shortNames, widgets.statusSubresource, widgets.columns.map((c) => c.name)]).to.deep.equal([['wdg'], true, ['Size']]);
    const warnings: string[] = [];
    const widget = core.create(widgets, 'default', { metadata: { name: 'w' }, spec: { size: 3, shape: 'round' } }, { warnings });
    expect(widget.spec).to.deep.equal({ size: 3, color: 'red' });
    expect(warnings).to.deep.equal(['unknown field "spec.shape"']);
    expect(widgets.columns[0]?.value(widget)).to.equal(3);
    const strict = errorOf(() => core.create(widgets, 'default', { metadata: { name: 'x' }, spec: { size: 1, shape: 1 } }, { fieldValidation: 'Strict' }));
    expect([strict.code, strict.message]).to.satisfy(([code, message]: [number, string]) => code === 400 && message.includes('unknown field "spec.shape"'));
    const invalid = errorOf(() => core.create(widgets, 'default', { metadata: { name: 'y' }, spec: { size: 99 } }));
    expect([invalid.code, invalid.details?.causes?.map((c) => c.field)]).to.deep.equal([422, ['spec.size']]);
    core.delete(crds, undefined, 'widgets.example.anchorlb.io');
    expect(core.registry.find('example.anchorlb.io', 'v1', 'widgets')).to.equal(undefined);
    expect(core.store.list('example.anchorlb.io/widgets')).to.deep.equal([]);
  });

  it('finishes a foreground deletion even when the object no longer passes a stricter schema', async () => {
    const crds = core.resource('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
    core.create(crds, undefined, widgetCrd);
    core.create(core.resource('example.anchorlb.io', 'v1', 'widgets'), 'default', { metadata: { name: 'big' }, spec: { size: 9 } });
    const stricter = JSON.parse(JSON.stringify(core.get(crds, undefined, 'widgets.example.anchorlb.io'))) as { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: { size: { maximum: number } } } } } } }[] } };
    const version = stricter.spec.versions[0];
    if (version) version.schema.openAPIV3Schema.properties.spec.properties.size.maximum = 3;
    core.update(crds, undefined, 'widgets.example.anchorlb.io', stricter, undefined);
    const widgets = core.resource('example.anchorlb.io', 'v1', 'widgets');
    core.delete(widgets, 'default', 'big', { propagationPolicy: 'Foreground' });
    await flushGc();
    expect(errorOf(() => core.get(widgets, 'default', 'big')).code).to.equal(404);
  });

  it('refuses a CRD whose name does not match its names and group', () => {
    const crds = core.resource('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
    const error = errorOf(() => core.create(crds, undefined, { ...widgetCrd, metadata: { name: 'wrong.example.anchorlb.io' } }));
    expect([error.code, error.details?.causes?.map((c) => c.field)]).to.deep.equal([422, ['metadata.name']]);
  });

  it('serves events.k8s.io events as core events and back', () => {
    const modern = core.resource('events.k8s.io', 'v1', 'events');
    core.create(modern, 'default', { metadata: { name: 'e' }, regarding: { kind: 'Service', name: 'web' }, note: 'hello', reportingController: 'anchorlb.io/x', reason: 'R', type: 'Normal' });
    const legacy = core.get(core.resource('', 'v1', 'events'), 'default', 'e');
    expect([legacy.apiVersion, (legacy.involvedObject as { name: string }).name, legacy.message, legacy.reportingComponent]).to.deep.equal(['v1', 'web', 'hello', 'anchorlb.io/x']);
    const back = core.get(modern, 'default', 'e');
    expect([back.apiVersion, back.note, back.message]).to.deep.equal(['events.k8s.io/v1', 'hello', undefined]);
  });

  it('folds Secret stringData into data', () => {
    const secret = core.create(core.resource('', 'v1', 'secrets'), 'default', { metadata: { name: 's' }, stringData: { password: 'hunter2' } });
    expect([secret.data, secret.stringData, secret.type]).to.deep.equal([{ password: Buffer.from('hunter2').toString('base64') }, undefined, 'Opaque']);
  });

  it('gives Services distinct cluster IPs and node ports, reuses freed ones, and still knows them after a restore from a snapshot', () => {
    const services = () => core.resource('', 'v1', 'services');
    const create = (name: string, extra: Record<string, unknown> = {}) => core.create(services(), 'default', { metadata: { name }, spec: { type: 'NodePort', ports: [{ port: 80 }], ...extra } }).spec as { clusterIP: string; ports: { nodePort: number }[] };
    const made = Array.from({ length: 20 }, (_, i) => create(`s${i}`));
    const ips = made.map((s) => s.clusterIP);
    const ports = made.map((s) => s.ports[0]?.nodePort);
    expect(new Set(ips).size).to.equal(20);
    expect(new Set(ports).size).to.equal(20);
    expect(ips).to.not.include('10.96.0.1'); // the kubernetes Service's
    core.delete(services(), 'default', 's3');
    expect(create('again')).to.deep.include({ clusterIP: ips[3] });
    const restored = new ApiCore();
    restored.store.restore(core.store.snapshot());
    restored.bootstrap();
    const refused = errorOf(() => restored.create(services(), 'default', { metadata: { name: 'copy' }, spec: { type: 'NodePort', clusterIP: ips[5], ports: [{ port: 80, nodePort: ports[6] }] } }));
    expect([refused.code, refused.details?.causes?.map((c) => c.field)]).to.deep.equal([422, ['spec.clusterIPs[0]', 'spec.ports[0].nodePort']]);
    const fresh = restored.create(services(), 'default', { metadata: { name: 'fresh' }, spec: { ports: [{ port: 80 }] } }).spec as { clusterIP: string };
    expect(ips).to.not.include(fresh.clusterIP);
  });
});

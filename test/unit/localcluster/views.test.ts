import { expect } from 'chai';
import { FaultInjector } from '../../../src/localcluster/faults.ts';
import { ResourceRegistry, builtinResources, humanDuration } from '../../../src/localcluster/registry.ts';
import type { KubeObject } from '../../../src/localcluster/types.ts';
import { apiGroupList, apiResourceList, openApiDocument, openApiIndex, openApiV2, schemaName, toTable } from '../../../src/localcluster/views.ts';

function registry(): ResourceRegistry {
  const result = new ResourceRegistry();
  for (const resource of builtinResources()) result.add(resource);
  return result;
}

describe('localcluster discovery, Table and OpenAPI documents', () => {
  it('lists groups with their preferred version and resources with verbs, short names and subresources', () => {
    const groups = apiGroupList(registry()).groups as { name: string; preferredVersion: { groupVersion: string } }[];
    expect(groups.map((g) => g.name)).to.include.members(['apps', 'rbac.authorization.k8s.io', 'apiextensions.k8s.io', 'events.k8s.io']);
    expect(groups.find((g) => g.name === 'apps')?.preferredVersion.groupVersion).to.equal('apps/v1');
    const core = apiResourceList(registry(), '', 'v1')?.resources as { name: string; shortNames?: string[]; verbs: string[]; namespaced: boolean }[];
    const services = core.find((r) => r.name === 'services');
    expect([services?.shortNames, services?.namespaced]).to.deep.equal([['svc'], true]);
    expect(services?.verbs).to.include.members(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);
    expect(core.map((r) => r.name)).to.include.members(['services/status', 'nodes/status', 'serviceaccounts/token']);
    const apps = apiResourceList(registry(), 'apps', 'v1')?.resources as { name: string }[];
    expect(apps.map((r) => r.name)).to.include('deployments/scale');
    expect(apiResourceList(registry(), 'nope.example.com', 'v1')).to.equal(undefined);
  });

  it('renders a Table with the Name column first, the kind\'s columns, and partial metadata rows', () => {
    const services = registry().find('', 'v1', 'services');
    if (!services) throw new Error('services not registered');
    const service: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: new Date(Date.now() - 90_000).toISOString() },
      spec: { type: 'LoadBalancer', clusterIP: '10.96.0.2', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }] },
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
    };
    const table = toTable(services, [service], { resourceVersion: '7' }, 'Metadata');
    const columns = (table.columnDefinitions as { name: string }[]).map((c) => c.name);
    expect(columns).to.deep.equal(['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector']);
    const row = (table.rows as { cells: unknown[]; object: { kind: string } }[])[0];
    expect(row?.cells.slice(0, 5)).to.deep.equal(['web', 'LoadBalancer', '10.96.0.2', '192.0.2.1', '80:30080/TCP']);
    expect(row?.cells[5]).to.match(/^(89|90|91)s$/);
    expect(row?.object.kind).to.equal('PartialObjectMetadata');
  });

  it('prints ages as kube-apiserver does', () => {
    expect([humanDuration(5_000), humanDuration(150_000), humanDuration(3 * 3600_000 + 60_000), humanDuration(50 * 3600_000), humanDuration(800 * 86400_000)]).to.deep.equal(['5s', '2m30s', '3h1m', '2d2h', '2y70d']);
  });

  it('publishes OpenAPI v3 per group/version with fieldValidation on every patch, and v2 definitions with their GVK', () => {
    const index = openApiIndex(registry()).paths as Record<string, { serverRelativeURL: string }>;
    expect(index['api/v1']?.serverRelativeURL).to.match(/^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]+$/);
    const document = openApiDocument(registry(), 'apps', 'v1', () => undefined) as { paths: Record<string, { patch?: { parameters: { name: string }[]; 'x-kubernetes-group-version-kind': { kind: string } } }> };
    const patch = document.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']?.patch;
    expect(patch?.['x-kubernetes-group-version-kind'].kind).to.equal('Deployment');
    expect(patch?.parameters.map((p) => p.name)).to.include('fieldValidation');
    const v2 = openApiV2(registry(), () => undefined).definitions as Record<string, { 'x-kubernetes-group-version-kind': { kind: string }[] }>;
    expect(v2['io.k8s.api.core.v1.Service']?.['x-kubernetes-group-version-kind'][0]?.kind).to.equal('Service');
    const apps = registry().find('apps', 'v1', 'deployments');
    expect(apps && schemaName(apps)).to.equal('io.k8s.api.apps.v1.Deployment');
  });
});

describe('localcluster fault injector', () => {
  it('counts down injected failures and conflicts, and drops tracked watches', () => {
    const faults = new FaultInjector();
    faults.failNext(2, 429);
    expect([faults.takeFailure(), faults.takeFailure(), faults.takeFailure()]).to.deep.equal([429, 429, undefined]);
    faults.conflictNextWrites(1);
    expect([faults.takeConflict(), faults.takeConflict()]).to.deep.equal([true, false]);
    let dropped = 0;
    const untrack = faults.trackWatch(() => dropped++);
    faults.dropWatches();
    untrack();
    faults.dropWatches();
    expect(dropped).to.equal(1);
  });

  it('refuses nonsense with a message naming the value', () => {
    const faults = new FaultInjector();
    expect(() => faults.failNext(-1)).to.throw('failNext: count must be a non-negative integer, got -1');
    expect(() => faults.failNext(1, 404 as 500)).to.throw('failNext: status must be 500 or 429, got 404');
    expect(() => faults.setLatency(Number.NaN)).to.throw('setLatency: ms must be a non-negative number, got NaN');
  });
});

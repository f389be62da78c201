// Discovery, version, health and OpenAPI endpoints.
// Docs: kubernetes.io/docs/concepts/overview/kubernetes-api/ (Discovery API, OpenAPI interface definition),
// kubernetes.io/docs/reference/using-api/health-checks/, kubernetes.io/docs/reference/using-api/api-concepts/.
import { expect } from 'chai';
import { field, isObject, useConformanceTarget } from './support.ts';

interface DiscoveredResource {
  name: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
}

describe('conformance: discovery and health', function () {
  const target = useConformanceTarget();

  async function resourceList(groupVersionPath: string): Promise<DiscoveredResource[]> {
    const response = await target.raw(groupVersionPath);
    expect(response.status, groupVersionPath).to.equal(200);
    expect(field(response.json, 'kind')).to.equal('APIResourceList');
    const resources = field(response.json, 'resources');
    expect(resources).to.be.an('array');
    return resources as DiscoveredResource[];
  }

  function resource(resources: DiscoveredResource[], name: string): DiscoveredResource {
    const found = resources.find((candidate) => candidate.name === name);
    expect(found, `resource ${name} in ${JSON.stringify(resources.map((r) => r.name))}`).to.not.equal(undefined);
    return found as DiscoveredResource;
  }

  // Health checks: "/healthz", "/readyz" (and "/livez") answer 200 "ok" when healthy.
  it('answers /healthz, /readyz and /livez with 200 ok', async () => {
    for (const path of ['/healthz', '/readyz', '/livez']) {
      const response = await target.raw(path, { headers: { Accept: '*/*' } });
      expect(response.status, path).to.equal(200);
      expect(response.text.trim(), path).to.equal('ok');
    }
  });

  // /version returns version.Info: major, minor, gitVersion, platform.
  it('serves /version with major, minor and gitVersion', async () => {
    const response = await target.raw('/version');
    expect(response.status).to.equal(200);
    expect(field(response.json, 'major')).to.be.a('string').and.match(/^\d+$/);
    expect(field(response.json, 'minor')).to.be.a('string').and.match(/^\d+\+?$/);
    expect(field(response.json, 'gitVersion')).to.be.a('string').and.match(/^v\d+\.\d+\./);
  });

  // Discovery: /api lists the legacy core group's versions (APIVersions).
  it('serves /api as APIVersions with v1', async () => {
    const response = await target.raw('/api');
    expect(response.status).to.equal(200);
    expect(field(response.json, 'kind')).to.equal('APIVersions');
    expect(field(response.json, 'versions')).to.include('v1');
  });

  // Discovery: /apis lists APIGroups with their versions and preferred version.
  it('serves /apis as APIGroupList with every group the project uses', async () => {
    const response = await target.raw('/apis');
    expect(response.status).to.equal(200);
    expect(field(response.json, 'kind')).to.equal('APIGroupList');
    const groups = field(response.json, 'groups');
    expect(groups).to.be.an('array');
    const byName = new Map((groups as unknown[]).filter(isObject).map((group) => [group.name, group]));
    const expected: Record<string, string> = {
      apps: 'apps/v1',
      'events.k8s.io': 'events.k8s.io/v1',
      'coordination.k8s.io': 'coordination.k8s.io/v1',
      'discovery.k8s.io': 'discovery.k8s.io/v1',
      'rbac.authorization.k8s.io': 'rbac.authorization.k8s.io/v1',
      'apiextensions.k8s.io': 'apiextensions.k8s.io/v1',
    };
    for (const [name, groupVersion] of Object.entries(expected)) {
      const group = byName.get(name);
      expect(group, `group ${name}`).to.not.equal(undefined);
      const versions = (field(group, 'versions') as unknown[]).map((version) => field(version, 'groupVersion'));
      expect(versions, name).to.include(groupVersion);
      expect(field(group, 'preferredVersion', 'groupVersion'), name).to.equal(groupVersion);
    }
  });

  // APIResourceList for v1: verbs, short names, categories and subresources as kubectl uses them.
  it('lists core v1 resources with verbs, short names, categories and status subresources', async () => {
    const resources = await resourceList('/api/v1');
    const services = resource(resources, 'services');
    expect(services.namespaced).to.equal(true);
    expect(services.kind).to.equal('Service');
    expect(services.verbs).to.include.members(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']);
    expect(services.shortNames).to.include('svc');
    expect(services.categories).to.include('all');
    expect(resource(resources, 'services/status').verbs).to.include.members(['get', 'patch', 'update']);
    expect(resource(resources, 'pods').shortNames).to.include('po');
    expect(resource(resources, 'pods').categories).to.include('all');
    const namespaces = resource(resources, 'namespaces');
    expect(namespaces.namespaced).to.equal(false);
    expect(namespaces.shortNames).to.include('ns');
    const nodes = resource(resources, 'nodes');
    expect(nodes.namespaced).to.equal(false);
    expect(nodes.shortNames).to.include('no');
    expect(resource(resources, 'nodes/status').verbs).to.include.members(['get', 'patch', 'update']);
    for (const [name, shortName] of [
      ['configmaps', 'cm'],
      ['endpoints', 'ep'],
      ['events', 'ev'],
      ['serviceaccounts', 'sa'],
    ] as const) {
      expect(resource(resources, name).shortNames, name).to.include(shortName);
    }
    expect(resource(resources, 'secrets').verbs).to.include.members(['create', 'get', 'list', 'watch', 'delete']);
  });

  it('lists apps/v1 workloads with their status subresources', async () => {
    const resources = await resourceList('/apis/apps/v1');
    const deployments = resource(resources, 'deployments');
    expect(deployments.shortNames).to.include('deploy');
    expect(deployments.categories).to.include('all');
    expect(resource(resources, 'daemonsets').shortNames).to.include('ds');
    expect(resource(resources, 'deployments/status').verbs).to.include.members(['get', 'patch', 'update']);
    expect(resource(resources, 'daemonsets/status').verbs).to.include.members(['get', 'patch', 'update']);
  });

  it('lists leases, endpointslices, events.k8s.io events, RBAC kinds and CRDs', async () => {
    expect(resource(await resourceList('/apis/coordination.k8s.io/v1'), 'leases').kind).to.equal('Lease');
    expect(resource(await resourceList('/apis/discovery.k8s.io/v1'), 'endpointslices').kind).to.equal('EndpointSlice');
    expect(resource(await resourceList('/apis/events.k8s.io/v1'), 'events').kind).to.equal('Event');
    const rbac = await resourceList('/apis/rbac.authorization.k8s.io/v1');
    for (const name of ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings']) resource(rbac, name);
    expect(resource(rbac, 'clusterroles').namespaced).to.equal(false);
    const crds = resource(await resourceList('/apis/apiextensions.k8s.io/v1'), 'customresourcedefinitions');
    expect(crds.namespaced).to.equal(false);
    expect(crds.shortNames).to.include('crd');
  });

  // An unknown group/version is a 404 (kubectl treats it as "resource type not found").
  it('answers 404 for a group version it does not serve', async () => {
    const response = await target.raw('/apis/no-such-group.example.com/v1');
    expect(response.status).to.equal(404);
  });

  // OpenAPI v2 at /openapi/v2: a Swagger 2.0 document with the built-in definitions.
  it('serves OpenAPI v2 with definitions for the built-in kinds', async () => {
    const response = await target.raw('/openapi/v2');
    expect(response.status).to.equal(200);
    expect(field(response.json, 'swagger')).to.equal('2.0');
    const definitions = field(response.json, 'definitions');
    for (const name of ['io.k8s.api.core.v1.Service', 'io.k8s.api.apps.v1.Deployment', 'io.k8s.api.core.v1.ConfigMap']) {
      expect(field(definitions, name, 'properties'), name).to.satisfy(isObject);
    }
    // kubectl reads the group/version/kind of each definition from this extension.
    expect(field(definitions, 'io.k8s.api.core.v1.Service', 'x-kubernetes-group-version-kind', 0, 'kind')).to.equal('Service');
  });

  // OpenAPI v3 at /openapi/v3: a discovery document of paths, each pointing to one group/version's document.
  it('serves OpenAPI v3 discovery and a per-group-version document with component schemas', async () => {
    const index = await target.raw('/openapi/v3');
    expect(index.status).to.equal(200);
    const paths = field(index.json, 'paths');
    const coreUrl = field(paths, 'api/v1', 'serverRelativeURL');
    expect(coreUrl).to.be.a('string');
    expect(field(paths, 'apis/apps/v1', 'serverRelativeURL')).to.be.a('string');
    const core = await target.raw(coreUrl as string);
    expect(core.status).to.equal(200);
    expect(String(field(core.json, 'openapi'))).to.match(/^3\./);
    expect(field(core.json, 'components', 'schemas', 'io.k8s.api.core.v1.Service', 'properties', 'spec')).to.satisfy(isObject);
  });
});

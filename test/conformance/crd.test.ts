// CustomResourceDefinitions registered at runtime.
// Docs: kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/
// (create a CRD, validation, defaulting, pruning, subresources/status, additional printer columns,
// short names and categories), kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables .
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/apiserver.ts';
import { TABLE_ACCEPT, eventually, field, useConformanceTarget, useTestNamespace, type RawResponse } from './support.ts';

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const CRD_NAME = 'widgets.conformance.anchorlb.io';
const GROUP_VERSION_PATH = '/apis/conformance.anchorlb.io/v1';

describe('conformance: custom resources', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-crd');
  const widgetsPath = () => `${GROUP_VERSION_PATH}/namespaces/${namespace.name}/widgets`;

  async function createWidget(name: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<RawResponse> {
    return target.raw(widgetsPath(), {
      method: 'POST',
      body: { apiVersion: 'conformance.anchorlb.io/v1', kind: 'Widget', metadata: { name }, spec, ...extra },
    });
  }

  async function mergePatch(path: string, body: unknown): Promise<RawResponse> {
    return target.raw(path, { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body });
  }

  async function crdGone(): Promise<true | undefined> {
    return (await target.raw(`${CRD_PATH}/${CRD_NAME}`)).status === 404 ? true : undefined;
  }

  // Creating a CRD makes its resource served; the Established condition says so.
  before(async function () {
    this.timeout(60_000);
    // A previous run against a foreign cluster may have left it behind.
    if ((await target.raw(`${CRD_PATH}/${CRD_NAME}`, { method: 'DELETE' })).status !== 404) await eventually('the old CRD to go', crdGone, 30_000);
    const manifest: unknown = parse(readFileSync(join(REPO_ROOT, 'test/data/conformance/widgets.crd.yaml'), 'utf8'));
    const created = await target.raw(CRD_PATH, { method: 'POST', body: manifest });
    expect(created.status, created.text).to.equal(201);
    target.deferCleanup(async () => {
      await target.raw(`${CRD_PATH}/${CRD_NAME}`, { method: 'DELETE' });
    });
    await eventually('the CRD to be Established', async () => {
      const crd = await target.raw(`${CRD_PATH}/${CRD_NAME}`);
      const conditions = (field(crd.json, 'status', 'conditions') as unknown[] | undefined) ?? [];
      return conditions.some((condition) => field(condition, 'type') === 'Established' && field(condition, 'status') === 'True') ? true : undefined;
    });
    await eventually('the widgets resource to be served', async () => ((await target.raw(widgetsPath())).status === 200 ? true : undefined));
  });


  it('lists the custom resource in discovery with its short names, categories and status subresource', async () => {
    const groups = await target.raw('/apis');
    const group = (field(groups.json, 'groups') as unknown[]).find((candidate) => field(candidate, 'name') === 'conformance.anchorlb.io');
    expect(field(group, 'preferredVersion', 'groupVersion')).to.equal('conformance.anchorlb.io/v1');
    const list = await target.raw(GROUP_VERSION_PATH);
    const resources = field(list.json, 'resources') as unknown[];
    const widgets = resources.find((resource) => field(resource, 'name') === 'widgets');
    expect(field(widgets, 'kind')).to.equal('Widget');
    expect(field(widgets, 'namespaced')).to.equal(true);
    expect(field(widgets, 'shortNames')).to.deep.equal(['wdg']);
    expect(field(widgets, 'categories')).to.deep.equal(['conformance']);
    expect(field(widgets, 'verbs')).to.include.members(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']);
    expect(resources.map((resource) => field(resource, 'name'))).to.include('widgets/status');
  });

  // kubectl validates apply against the OpenAPI documents, which include served CRDs.
  // kube-apiserver publishes a new CRD's schema a moment after the CRD is established, so poll.
  it('publishes the custom resource schema in OpenAPI v3 and v2', async () => {
    const url = await eventually('the CRD group/version in /openapi/v3', async () => {
      const index = await target.raw('/openapi/v3');
      return field(index.json, 'paths', 'apis/conformance.anchorlb.io/v1', 'serverRelativeURL') as string | undefined;
    });
    expect(url).to.be.a('string');
    const document = await target.raw(url);
    const schemas = field(document.json, 'components', 'schemas') as Record<string, unknown>;
    const widget = Object.entries(schemas).find(([name]) => name.endsWith('.Widget'))?.[1];
    expect(field(widget, 'properties', 'spec', 'properties', 'size', 'type')).to.equal('integer');
    await eventually('the Widget definition in /openapi/v2', async () => field((await target.raw('/openapi/v2')).json, 'definitions', 'io.anchorlb.conformance.v1.Widget'));
  });

  // Validation against openAPIV3Schema: 422 Invalid with a cause per bad field.
  it('rejects objects that break the schema with 422 naming the fields', async () => {
    const response = await createWidget('invalid', { size: 42, color: 'purple' });
    expect(response.status).to.equal(422);
    expect(field(response.json, 'reason')).to.equal('Invalid');
    const fields = (field(response.json, 'details', 'causes') as unknown[]).map((cause) => field(cause, 'field'));
    expect(fields).to.include.members(['spec.size', 'spec.color']);
    const missing = await createWidget('missing', {});
    expect(missing.status).to.equal(422);
    expect((field(missing.json, 'details', 'causes') as unknown[]).map((cause) => field(cause, 'field'))).to.include('spec.size');
    const wrongType = await createWidget('wrong-type', { size: 'three' });
    expect(wrongType.status).to.equal(422);
  });

  // Defaulting from the schema, and pruning of fields the schema does not declare.
  it('applies schema defaults and prunes unknown fields', async () => {
    const response = await createWidget('defaulted', { size: 2, extra: 'dropped' }, { unknownTopLevel: true });
    expect(response.status, response.text).to.equal(201);
    expect(field(response.json, 'spec')).to.deep.equal({ size: 2, color: 'green' });
    expect(field(response.json, 'unknownTopLevel')).to.equal(undefined);
    const strict = await target.raw(`${widgetsPath()}?fieldValidation=Strict`, {
      method: 'POST',
      body: { apiVersion: 'conformance.anchorlb.io/v1', kind: 'Widget', metadata: { name: 'strict' }, spec: { size: 2, extra: 'x' } },
    });
    expect(strict.status).to.equal(400);
    expect(field(strict.json, 'message')).to.contain('extra');
  });

  // Status subresource: the main resource ignores status; spec changes bump generation;
  // /status ignores everything but status and leaves generation alone.
  it('honours the status subresource and generation', async () => {
    const created = await createWidget('staged', { size: 1 }, { status: { phase: 'Ignored' } });
    expect(created.status, created.text).to.equal(201);
    expect(field(created.json, 'status')).to.equal(undefined);
    expect(field(created.json, 'metadata', 'generation')).to.equal(1);
    const path = `${widgetsPath()}/staged`;

    const statusWrite = await mergePatch(`${path}/status`, { spec: { size: 9 }, status: { phase: 'Ready', observedGeneration: 1 } });
    expect(statusWrite.status, statusWrite.text).to.equal(200);
    expect(field(statusWrite.json, 'status', 'phase')).to.equal('Ready');
    expect(field(statusWrite.json, 'spec', 'size')).to.equal(1);
    expect(field(statusWrite.json, 'metadata', 'generation')).to.equal(1);

    const specWrite = await mergePatch(path, { spec: { size: 5 }, status: { phase: 'Overwritten' } });
    expect(field(specWrite.json, 'spec', 'size')).to.equal(5);
    expect(field(specWrite.json, 'status', 'phase')).to.equal('Ready');
    expect(field(specWrite.json, 'metadata', 'generation')).to.equal(2);

    const labelWrite = await mergePatch(path, { metadata: { labels: { touched: 'yes' } } });
    expect(field(labelWrite.json, 'metadata', 'generation')).to.equal(2);
  });

  // Server-side printing: Accept as=Table returns the CRD's additionalPrinterColumns after Name.
  it('serves printer columns in Table responses', async () => {
    await createWidget('printed', { size: 4, color: 'red' });
    await mergePatch(`${widgetsPath()}/printed/status`, { status: { phase: 'Ready' } });
    const table = await target.raw(`${widgetsPath()}?fieldSelector=metadata.name%3Dprinted`, { headers: { Accept: TABLE_ACCEPT } });
    expect(table.status).to.equal(200);
    expect(field(table.json, 'kind')).to.equal('Table');
    expect(field(table.json, 'apiVersion')).to.equal('meta.k8s.io/v1');
    const columns = (field(table.json, 'columnDefinitions') as unknown[]).map((column) => field(column, 'name'));
    expect(columns).to.deep.equal(['Name', 'Color', 'Size', 'Phase', 'Age']);
    const rows = field(table.json, 'rows') as unknown[];
    expect(rows).to.have.lengthOf(1);
    const cells = field(rows[0], 'cells') as unknown[];
    expect(cells.slice(0, 4)).to.deep.equal(['printed', 'red', 4, 'Ready']);
    expect(cells[4]).to.be.a('string');
    // Each row carries the object's metadata (kubectl reads the namespace and name from it).
    expect(field(rows[0], 'object', 'metadata', 'name')).to.equal('printed');
  });

  // Custom resources do not support strategic merge patch.
  it('answers a strategic merge patch of a custom resource with 415', async () => {
    await createWidget('no-smp', { size: 1 });
    const response = await target.raw(`${widgetsPath()}/no-smp`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
      body: { spec: { size: 2 } },
    });
    expect(response.status).to.equal(415);
  });

  it('stops serving the resource once the CRD is deleted', async function () {
    this.timeout(60_000);
    await target.raw(`${CRD_PATH}/${CRD_NAME}`, { method: 'DELETE' });
    await eventually('the CRD to be gone', crdGone, 45_000);
    expect((await target.raw(widgetsPath())).status).to.equal(404);
  });
});

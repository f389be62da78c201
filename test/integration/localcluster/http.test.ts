import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import { startLocalApiServer, type LocalApiServer } from '../../../src/localcluster/index.ts';

interface Response {
  status: number;
  json: Record<string, unknown>;
}

function call(server: LocalApiServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server.url), { method, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const crd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'gadgets.example.anchorlb.io' },
  spec: {
    group: 'example.anchorlb.io',
    scope: 'Namespaced',
    names: { plural: 'gadgets', kind: 'Gadget' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

describe('local API server HTTP details', () => {
  let server: LocalApiServer;

  before(async () => {
    server = await startLocalApiServer();
  });

  after(async () => {
    await server?.stop();
  });

  it('serves metadata-only lists and objects to metadata clients', async () => {
    const accept = { Accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json' };
    const list = await call(server, 'GET', '/api/v1/namespaces', undefined, accept);
    expect(list.json.kind).to.equal('PartialObjectMetadataList');
    const items = list.json.items as { kind: string; metadata: { name: string }; spec?: unknown }[];
    expect(items.map((i) => i.metadata.name)).to.include('default');
    expect(items[0]).to.not.have.property('spec');
    const one = await call(server, 'GET', '/api/v1/namespaces/default', undefined, { Accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1' });
    expect([one.json.kind, (one.json.metadata as { name: string }).name]).to.deep.equal(['PartialObjectMetadata', 'default']);
  });

  it('reports custom objects deleted with their CRD, then ends their watches', async () => {
    expect((await call(server, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)).status).to.equal(201);
    const created = await call(server, 'POST', '/apis/example.anchorlb.io/v1/namespaces/default/gadgets', { metadata: { name: 'g1' }, spec: { any: 'thing' } });
    expect(created.status).to.equal(201);
    const events: string[] = [];
    let watching: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (watching = resolve));
    const ended = new Promise<void>((resolve, reject) => {
      const req = request(new URL(`/apis/example.anchorlb.io/v1/namespaces/default/gadgets?watch=true&resourceVersion=${String((created.json.metadata as { resourceVersion: string }).resourceVersion)}`, server.url), (res) => {
        watching();
        createInterface(res).on('line', (line) => events.push((JSON.parse(line) as { type: string }).type));
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    // The server has the watch once it has answered it (status and headers), before any event.
    await answered;
    expect((await call(server, 'DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.anchorlb.io')).status).to.equal(200);
    await ended;
    expect(events).to.deep.equal(['DELETED']);
    expect((await call(server, 'GET', '/apis/example.anchorlb.io/v1/namespaces/default/gadgets')).status).to.equal(404);
  });

  it('refuses an unknown includeObject with 400 naming the value', async () => {
    const response = await call(server, 'GET', '/api/v1/namespaces?includeObject=Everything', undefined, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    expect([response.status, response.json.message]).to.deep.equal([400, 'includeObject: Unsupported value: "Everything": supported values: "None", "Metadata", "Object"']);
  });
});

describe('local API server paging', () => {
  let server: LocalApiServer;

  before(async () => {
    server = await startLocalApiServer();
  });

  after(async () => {
    await server?.stop();
  });

  it('pages a list with limit/continue, later pages showing the state of the first page', async () => {
    const path = '/api/v1/namespaces/default/configmaps';
    for (const name of ['a', 'b', 'c', 'd', 'e']) expect((await call(server, 'POST', path, { metadata: { name } })).status).to.equal(201);
    const first = await call(server, 'GET', `${path}?limit=2`);
    const meta = first.json.metadata as { continue: string; remainingItemCount: number; resourceVersion: string };
    expect((first.json.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).to.deep.equal(['a', 'b']);
    expect(meta.remainingItemCount).to.equal(3);
    // Changes after the first page do not show in later pages.
    expect((await call(server, 'DELETE', `${path}/d`)).status).to.equal(200);
    expect((await call(server, 'POST', path, { metadata: { name: 'cc' } })).status).to.equal(201);
    const second = await call(server, 'GET', `${path}?limit=2&continue=${encodeURIComponent(meta.continue)}`);
    expect((second.json.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).to.deep.equal(['c', 'd']);
    expect((second.json.metadata as { resourceVersion: string }).resourceVersion).to.equal(meta.resourceVersion);
    const third = await call(server, 'GET', `${path}?limit=2&continue=${encodeURIComponent((second.json.metadata as { continue: string }).continue)}`);
    expect((third.json.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).to.deep.equal(['e']);
    expect(third.json.metadata).to.not.have.property('continue');
    expect((await call(server, 'GET', `${path}?continue=not-a-token`)).status).to.equal(400);
  });
});

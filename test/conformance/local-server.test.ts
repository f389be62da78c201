// The local API server's own machinery: fault injection, restart keeping data, HTTPS with a
// generated CA, kubeconfigs per identity. Skipped against any other server.
// Error shapes follow the Kubernetes docs for the statuses injected: 429 TooManyRequests with
// Retry-After and 500 InternalError (kubernetes.io/docs/reference/using-api/api-concepts/ ,
// api-conventions "HTTP Status codes"), 409 Conflict as for a stale update.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startLocalApiServer, type LocalApiServer } from '../../src/localcluster/index.ts';
import { loadKubeConfig } from '../support/apiserver.ts';
import { field, useConformanceTarget, useTestNamespace } from './support.ts';

describe('conformance (local server only): fault injection and restart', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-local');
  const server = () => target.local as LocalApiServer;
  const configMapsPath = () => `/api/v1/namespaces/${namespace.name}/configmaps`;

  before(function () {
    if (target.local === undefined) this.skip();
  });

  afterEach(() => {
    server().faults.setLatency(0);
  });

  it('answers the next N requests with 429 TooManyRequests and Retry-After, then recovers', async () => {
    server().faults.failNext(2, 429);
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await target.raw(configMapsPath());
      expect(response.status).to.equal(429);
      expect(field(response.json, 'reason')).to.equal('TooManyRequests');
      expect(response.headers['retry-after']).to.match(/^\d+$/);
    }
    expect((await target.raw(configMapsPath())).status).to.equal(200);
  });

  it('answers the next N requests with 500 InternalError, then recovers', async () => {
    server().faults.failNext(1, 500);
    const failed = await target.raw(configMapsPath());
    expect(failed.status).to.equal(500);
    expect(field(failed.json, 'kind')).to.equal('Status');
    expect(field(failed.json, 'reason')).to.equal('InternalError');
    expect((await target.raw(configMapsPath())).status).to.equal(200);
  });

  it('answers the next N writes with 409 Conflict, leaving reads alone', async () => {
    server().faults.conflictNextWrites(1);
    expect((await target.raw(configMapsPath())).status).to.equal(200);
    const conflicted = await target.raw(configMapsPath(), { method: 'POST', body: { metadata: { name: 'conflicted' } } });
    expect(conflicted.status).to.equal(409);
    expect(field(conflicted.json, 'reason')).to.equal('Conflict');
    expect((await target.raw(configMapsPath(), { method: 'POST', body: { metadata: { name: 'conflicted' } } })).status).to.equal(201);
  });

  // A dropped watch ends like a server-side timeout: the stream closes cleanly, so clients re-watch.
  it('drops open watches by ending their streams', async () => {
    const list = await target.api(CoreV1Api).listNamespacedConfigMap({ namespace: namespace.name });
    const watching = target.watch(`${configMapsPath()}?watch=true&resourceVersion=${list.metadata?.resourceVersion}`, () => false, 15_000);
    // Let the request reach the server before dropping it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    server().faults.dropWatches();
    expect(await watching).to.deep.equal([]);
  });

  // Latency is asserted only as a lower bound: a slow machine cannot make it fail.
  it('adds latency to requests', async () => {
    server().faults.setLatency(400);
    const started = performance.now();
    await target.raw(configMapsPath());
    expect(performance.now() - started).to.be.at.least(400);
  });

  it('takes faults through the admin endpoint with the admin token only', async () => {
    const admin = await target.raw('/anchorlb-admin/faults', { method: 'POST', body: { failNext: { count: 1, status: 500 } } });
    expect(admin.status).to.be.within(200, 299);
    expect((await target.raw(configMapsPath())).status).to.equal(500);
    const anonymous = await target.raw('/anchorlb-admin/faults', {
      method: 'POST',
      headers: { Authorization: 'Bearer not-the-admin' },
      body: { failNext: { count: 1, status: 500 } },
    });
    expect(anonymous.status).to.be.oneOf([401, 403]);
    expect((await target.raw(configMapsPath())).status).to.equal(200);
  });

  // Restart keeps every object (same uid and resourceVersion) and keeps resourceVersions increasing.
  it('keeps data across a restart', async function () {
    this.timeout(60_000);
    const core = () => target.api(CoreV1Api);
    const original = await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'durable' }, data: { a: '1' } } });
    await server().restart();
    const reread = await core().readNamespacedConfigMap({ namespace: namespace.name, name: 'durable' });
    expect(reread.metadata?.uid).to.equal(original.metadata?.uid);
    expect(reread.metadata?.resourceVersion).to.equal(original.metadata?.resourceVersion);
    expect(reread.data).to.deep.equal({ a: '1' });
    const next = await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'after-restart' } } });
    expect(Number(next.metadata?.resourceVersion)).to.be.greaterThan(Number(original.metadata?.resourceVersion));
  });
});

describe('conformance (local server only): HTTPS, identities and defaults', function () {
  const target = useConformanceTarget();
  let dataDir: string | undefined;
  let tlsServer: LocalApiServer | undefined;

  before(async function () {
    if (target.local === undefined) this.skip();
    this.timeout(60_000);
    dataDir = await mkdtemp(join(tmpdir(), 'anchorlb-conformance-tls-'));
    tlsServer = await startLocalApiServer({ host: '127.0.0.1', port: 0, tls: true, dataDir });
  });

  after(async function () {
    this.timeout(60_000);
    await tlsServer?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  // The kubeconfig pins the generated CA (no skip-verify) and carries a bearer token.
  it('serves HTTPS verified against its generated CA, with a bearer-token kubeconfig', async () => {
    const server = tlsServer as LocalApiServer;
    expect(server.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const kubeconfig: unknown = parse(readFileSync(server.kubeconfigPath(), 'utf8'));
    const cluster = field(kubeconfig, 'clusters', 0, 'cluster');
    expect(field(cluster, 'certificate-authority-data')).to.be.a('string');
    expect(field(cluster, 'insecure-skip-tls-verify') ?? false).to.equal(false);
    expect(field(kubeconfig, 'users', 0, 'user', 'token')).to.equal(server.adminToken);
    const core = loadKubeConfig(server.kubeconfigPath()).makeApiClient(CoreV1Api);
    const namespaces = await core.listNamespace();
    expect(namespaces.items.map((item) => item.metadata?.name)).to.include('default');
  });

  it('refuses requests without a token with 401', async () => {
    const server = tlsServer as LocalApiServer;
    const kubeConfig = loadKubeConfig(server.kubeconfigPath());
    const response = await target.raw('/api/v1/namespaces', { kubeConfig, headers: { Authorization: '' } });
    expect(response.status).to.equal(401);
  });

  it('writes a kubeconfig per service account that authenticates as it', async () => {
    const server = tlsServer as LocalApiServer;
    const admin = loadKubeConfig(server.kubeconfigPath()).makeApiClient(CoreV1Api);
    await admin.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'identity-check' } } });
    const path = await server.createServiceAccountKubeconfig('default', 'identity-check');
    const response = await target.raw('/api/v1/namespaces/default/secrets', { kubeConfig: loadKubeConfig(path) });
    expect(response.status).to.equal(403);
    expect(field(response.json, 'message')).to.contain('system:serviceaccount:default:identity-check');
  });

  // Fault injection is off unless asked for.
  it('has no fault endpoint when fault injection is off', async () => {
    const server = tlsServer as LocalApiServer;
    const response = await target.raw('/anchorlb-admin/faults', {
      kubeConfig: loadKubeConfig(server.kubeconfigPath()),
      method: 'POST',
      body: { failNext: { count: 1, status: 500 } },
    });
    expect(response.status).to.equal(404);
  });
});

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import { ApiException, ApiextensionsV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, VersionApi } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startLocalApiServer, type LocalApiServer } from '../../../src/localcluster/index.ts';
import { REPO_ROOT, createKubectl, loadKubeConfig } from '../../support/apiserver.ts';
import { requireKubectl } from '../../support/preconditions.ts';

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

describe('local API server over HTTPS with bearer tokens and RBAC', function () {
  let server: LocalApiServer;
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'anchorlb-lc-tls-'));
    server = await startLocalApiServer({ tls: true, dataDir, faultInjection: true });
  });

  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves HTTPS with a certificate the admin kubeconfig\'s CA verifies', async () => {
    expect(server.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const kubeConfig = loadKubeConfig(server.kubeconfigPath());
    expect(kubeConfig.getCurrentCluster()?.skipTLSVerify).to.not.equal(true);
    const namespaces = await kubeConfig.makeApiClient(CoreV1Api).listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).to.include('default');
    const version = await kubeConfig.makeApiClient(VersionApi).getCode();
    expect(version.major).to.equal('1');
  });

  it('refuses requests without a token or with an unknown one with 401', async () => {
    const ca = parse(readFileSync(server.kubeconfigPath(), 'utf8')).clusters[0].cluster['certificate-authority-data'] as string;
    const kubeConfig = loadKubeConfig(server.kubeconfigPath());
    const user = kubeConfig.getCurrentUser();
    if (user) Object.assign(user, { token: 'not-a-token' });
    expect(await statusOf(kubeConfig.makeApiClient(CoreV1Api).listNamespace())).to.equal(401);
    expect(Buffer.from(ca, 'base64').toString()).to.contain('BEGIN CERTIFICATE');
  });

  it('gives a service account exactly what its RBAC bindings grant', async () => {
    const path = await server.createServiceAccountKubeconfig('anchorlb-system', 'speaker');
    expect(server.kubeconfigPath('system:serviceaccount:anchorlb-system:speaker')).to.equal(path);
    const speaker = loadKubeConfig(path).makeApiClient(CoreV1Api);
    expect(await statusOf(speaker.listServiceForAllNamespaces())).to.equal(403);
    const admin = loadKubeConfig(server.kubeconfigPath());
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({ body: { metadata: { name: 'speaker' }, rules: [{ apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch'] }] } });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: 'speaker' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'speaker' }, subjects: [{ kind: 'ServiceAccount', name: 'speaker', namespace: 'anchorlb-system' }] },
    });
    expect(await statusOf(speaker.listServiceForAllNamespaces())).to.equal(200);
    expect(await statusOf(speaker.deleteNamespacedService({ namespace: 'default', name: 'kubernetes' }))).to.equal(403);
    expect(await statusOf(speaker.listNode())).to.equal(403);
  });

  it('refuses a service account a role or binding granting more than it holds', async () => {
    const path = await server.createServiceAccountKubeconfig('anchorlb-system', 'operator');
    const admin = loadKubeConfig(server.kubeconfigPath()).makeApiClient(RbacAuthorizationV1Api);
    await admin.createClusterRole({
      body: { metadata: { name: 'operator' }, rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: ['create'] }, { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] },
    });
    await admin.createClusterRoleBinding({
      body: { metadata: { name: 'operator' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'operator' }, subjects: [{ kind: 'ServiceAccount', name: 'operator', namespace: 'anchorlb-system' }] },
    });
    const operator = loadKubeConfig(path).makeApiClient(RbacAuthorizationV1Api);
    const rule = (resources: string[]) => ({ apiGroups: [''], resources, verbs: ['get'] });
    expect(await statusOf(operator.createNamespacedRole({ namespace: 'default', body: { metadata: { name: 'held' }, rules: [rule(['configmaps'])] } }))).to.equal(200);
    expect(await statusOf(operator.createNamespacedRole({ namespace: 'default', body: { metadata: { name: 'escalating' }, rules: [rule(['secrets'])] } }))).to.equal(403);
    const binding = (roleKind: string, roleName: string) => ({
      metadata: { name: `to-${roleName}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: roleName },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'default' }],
    });
    expect(await statusOf(operator.createNamespacedRoleBinding({ namespace: 'default', body: binding('Role', 'held') }))).to.equal(200);
    expect(await statusOf(operator.createNamespacedRoleBinding({ namespace: 'default', body: binding('ClusterRole', 'speaker') }))).to.equal(403);
  });

  it('serves clients using the in-cluster configuration (service host and port, token and CA files)', async () => {
    await server.createServiceAccountKubeconfig('anchorlb-system', 'speaker');
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    const url = new URL(server.url);
    process.env.KUBERNETES_SERVICE_HOST = url.hostname;
    process.env.KUBERNETES_SERVICE_PORT = url.port;
    try {
      const inCluster = new KubeConfig();
      inCluster.loadFromCluster(join(dataDir, 'serviceaccounts', 'anchorlb-system', 'speaker'));
      expect(inCluster.getContextObject(inCluster.getCurrentContext())?.namespace).to.equal('anchorlb-system');
      const services = await inCluster.makeApiClient(CoreV1Api).listServiceForAllNamespaces();
      expect(services.items.map((s) => s.metadata?.name)).to.include('kubernetes');
      expect(await statusOf(inCluster.makeApiClient(CoreV1Api).listNode())).to.equal(403);
    } finally {
      for (const [key, value] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('takes faults only from the admin token', async () => {
    const path = await server.createServiceAccountKubeconfig('default', 'intruder');
    const token = loadKubeConfig(path).getCurrentUser()?.token ?? '';
    const ca = readFileSync(join(dataDir, 'ca.crt'));
    const post = (bearer: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = httpsRequest(new URL('/anchorlb-admin/faults', server.url), { method: 'POST', ca, headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(JSON.stringify({ latencyMs: 0 }));
      });
    expect(await post(token)).to.equal(403);
    expect(await post(server.adminToken)).to.equal(200);
  });

  it('works with kubectl over HTTPS', async function () {
    requireKubectl(this);
    const { kubectl, dispose } = await createKubectl(server.kubeconfigPath());
    try {
      const result = await kubectl.run(['get', 'namespaces', '-o', 'name']);
      expect(result.stdout, result.stderr).to.contain('namespace/kube-system');
    } finally {
      await dispose();
    }
  });
});

describe('local API server restarts', () => {
  it('keeps its data, address and tokens across restart(), and across stop/start with a data dir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'anchorlb-lc-restart-'));
    let server = await startLocalApiServer({ dataDir });
    try {
      const core = () => loadKubeConfig(server.kubeconfigPath()).makeApiClient(CoreV1Api);
      await core().createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'kept' }, data: { a: '1' } } });
      const url = server.url;
      await server.restart();
      expect(server.url).to.equal(url);
      expect((await core().readNamespacedConfigMap({ namespace: 'default', name: 'kept' })).data).to.deep.equal({ a: '1' });
      const token = server.adminToken;
      await server.stop();
      server = await startLocalApiServer({ dataDir });
      expect(server.adminToken).to.equal(token);
      expect((await core().readNamespacedConfigMap({ namespace: 'default', name: 'kept' })).data).to.deep.equal({ a: '1' });
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('anchorlb local-apiserver', () => {
  it('prints its URL and admin kubeconfig, serves the project CRDs, and exits cleanly on SIGTERM', async function () {
    this.timeout(60_000);
    const dataDir = await mkdtemp(join(tmpdir(), 'anchorlb-lc-cli-'));
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/anchorlb.js'), 'local-apiserver', '--data-dir', dataDir, '--crds', join(REPO_ROOT, 'crds')], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const lines: string[] = [];
      for await (const line of createInterface(child.stdout)) {
        lines.push(line);
        if (lines.length === 2) break;
      }
      expect(lines[0]).to.match(/^url: http:\/\/127\.0\.0\.1:\d+$/);
      expect(lines[1]).to.equal(`kubeconfig: ${join(dataDir, 'admin.kubeconfig')}`);
      const kubeConfig = loadKubeConfig(join(dataDir, 'admin.kubeconfig'));
      const crds = await kubeConfig.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
      expect(crds.items.map((crd) => crd.metadata?.name)).to.include('ipaddresspools.anchorlb.io');
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(existsSync(join(dataDir, 'state.json'))).to.equal(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a bad port with a message naming it and exit code 2', async () => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/anchorlb.js'), 'local-apiserver', '--port', 'eighty'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).to.equal(2);
    expect(stderr).to.contain('--port: expected an integer from 0 to 65535, got "eighty"');
  });
});

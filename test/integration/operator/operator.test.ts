/**
 * `anchorlb operator` as a process, with the operator's own service account
 * (RBAC from config/rbac/operator.yaml), against the local API server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import type { AnchorLB } from '../../../src/api/index.ts';
import { KubeHttpError, KubeRest } from '../../../src/kube/rest.ts';
import { FINALIZER, anchorlbPath } from '../../../src/operator/reconcile.ts';
import { Registry } from 'prom-client';
import { createLogger } from '../../../src/common/log.ts';
import { ServiceController } from '../../../src/reconcilers/services.ts';
import { Speaker } from '../../../src/speaker/speaker.ts';
import type { L2Announcement } from '../../../src/speaker/l2-desired.ts';
import { REPO_ROOT, loadKubeConfig, withLocalApiServer } from '../../support/apiserver.ts';
import { waitFor } from '../../support/testbed.ts';

const NS = 'anchorlb-system';
const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));
const ANCHORLBS = `/apis/anchorlb.io/v1beta1/namespaces/${NS}/anchorlbs`;
const DEPLOYMENT = `/apis/apps/v1/namespaces/${NS}/deployments/anchorlb-controller`;
const DAEMONSET = `/apis/apps/v1/namespaces/${NS}/daemonsets/anchorlb-speaker`;
const SECRET = `/api/v1/namespaces/${NS}/secrets/anchorlb-liveness`;
const CREATED = [
  `/api/v1/namespaces/${NS}/serviceaccounts/anchorlb-controller`,
  `/api/v1/namespaces/${NS}/serviceaccounts/anchorlb-speaker`,
  `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/anchorlb-controller`,
  `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings/anchorlb-speaker`,
  '/apis/rbac.authorization.k8s.io/v1/clusterroles/anchorlb-controller',
  '/apis/rbac.authorization.k8s.io/v1/clusterroles/anchorlb-speaker',
  '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/anchorlb-speaker',
  SECRET,
  DEPLOYMENT,
  DAEMONSET,
];

interface PodTemplate {
  spec: { template: { spec: { nodeSelector?: Record<string, string>; containers: { image: string; args: string[] }[] } } };
}

function livenessKeyOf(secret: unknown): string {
  return (secret as { data: { key: string } }).data.key;
}

async function exists(rest: KubeRest, path: string): Promise<boolean> {
  try {
    await rest.getJson(path);
    return true;
  } catch (error) {
    if (error instanceof KubeHttpError && error.statusCode === 404) return false;
    throw error;
  }
}

async function statusCode(request: Promise<unknown>): Promise<number> {
  try {
    await request;
    return 200;
  } catch (error) {
    if (error instanceof KubeHttpError) return error.statusCode;
    throw error;
  }
}

describe('anchorlb operator against the local API server', function () {
  this.timeout(120_000);
  const cluster = withLocalApiServer({ crdFiles, faultInjection: true });
  let admin: KubeRest;
  let operatorKubeconfig: string;
  let operator: ChildProcess | undefined;
  let operatorOutput = '';
  let livenessKey = '';

  const startOperator = () => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/anchorlb.js'), 'operator', '--kubeconfig', operatorKubeconfig, '--namespace', NS, '--metrics-port', '0', '--metrics-host', '127.0.0.1'], {
      env: { ...process.env, ANCHORLB_LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (operatorOutput += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (operatorOutput += chunk.toString()));
    operator = child;
  };
  const stopOperator = async () => {
    const child = operator;
    operator = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const sample = async (): Promise<AnchorLB> => parse(await readFile(join(REPO_ROOT, 'config/samples/anchorlb.yaml'), 'utf8')) as AnchorLB;
  const anchorlb = () => admin.getJson<AnchorLB>(anchorlbPath(NS, 'anchorlb'));

  before(async () => {
    admin = new KubeRest(cluster.kubeConfig);
    // What make manifests puts in dist/install.yaml: CRDs, the operator's RBAC, the operator Deployment.
    const rendered = await cluster.kubectl(['kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(REPO_ROOT, 'config/default')]);
    expect(rendered.code, rendered.stderr).to.equal(0);
    const applied = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { stdin: rendered.stdout });
    expect(applied.code, applied.stderr).to.equal(0);
    expect(applied.stdout).to.contain('deployment.apps/anchorlb-operator serverside-applied');
    operatorKubeconfig = await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-operator');
    startOperator();
  });

  after(stopOperator);

  it('creates accounts, permissions, the liveness Secret and both workloads from an AnchorLB, with its finalizer and status', async () => {
    await admin.create(ANCHORLBS, await sample());
    for (const path of CREATED) await waitFor(path, () => exists(admin, path), 30_000);
    const current = await waitFor('status conditions', async () => ((await anchorlb()).status?.conditions ? anchorlb() : undefined), 30_000);
    expect(current.metadata.finalizers).to.include(FINALIZER);
    // Nothing runs pods here, so the workloads report none ready yet.
    expect(current.status?.conditions?.find((condition) => condition.type === 'Available')?.status).to.equal('False');
    const { spec } = await admin.getJson<PodTemplate>(DAEMONSET);
    expect(spec.template.spec.nodeSelector).to.deep.equal({ 'kubernetes.io/os': 'linux' });
  });

  it('reports Available once the workloads say their pods are ready', async () => {
    const deployment = await admin.getJson<{ metadata: { generation: number } }>(DEPLOYMENT);
    await admin.patch(`${DEPLOYMENT}/status`, { status: { observedGeneration: deployment.metadata.generation, replicas: 1, readyReplicas: 1, updatedReplicas: 1 } });
    const daemonSet = await admin.getJson<{ metadata: { generation: number } }>(DAEMONSET);
    await admin.patch(`${DAEMONSET}/status`, { status: { observedGeneration: daemonSet.metadata.generation, desiredNumberScheduled: 2, numberReady: 2, updatedNumberScheduled: 2 } });
    const available = await waitFor('Available=True', async () => {
      const current = await anchorlb();
      return current.status?.conditions?.find((condition) => condition.type === 'Available' && condition.status === 'True') ? current : undefined;
    }, 30_000);
    expect(available.status?.speaker).to.include({ desired: 2, ready: 2 });
  });

  it('reports what anchorlb doctor finds as the Conflict condition, read with the operator\'s own permissions', async () => {
    const conflict = async () => (await anchorlb()).status?.conditions?.find((condition) => condition.type === 'Conflict');
    expect(await conflict()).to.include({ status: 'False', reason: 'NoConflicts' });
    await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'metallb-system' } });
    await admin.create('/apis/apps/v1/namespaces/metallb-system/deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'controller' },
      spec: {
        selector: { matchLabels: { app: 'metallb' } },
        template: { metadata: { labels: { app: 'metallb' } }, spec: { containers: [{ name: 'controller', image: 'quay.io/metallb/controller:v0.14.8' }] } },
      },
    });
    // Findings are refreshed on every reconcile: any change to the AnchorLB or its workloads, or the periodic resync.
    await admin.patch(anchorlbPath(NS, 'anchorlb'), { metadata: { annotations: { touched: 'doctor' } } });
    const found = await waitFor('Conflict=True', async () => {
      const condition = await conflict();
      return condition?.status === 'True' ? condition : undefined;
    }, 30_000);
    expect(found.reason).to.equal('RivalLoadBalancer');
    expect(found.message).to.contain('Deployment metallb-system/controller').and.contain('fix:').and.not.contain('not checked');
    await admin.delete('/apis/apps/v1/namespaces/metallb-system/deployments/controller');
  });

  it('gives the controller and the speaker exactly what config/rbac grants them', async () => {
    const controller = new KubeRest(loadKubeConfig(await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-controller')));
    const speaker = new KubeRest(loadKubeConfig(await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-speaker')));
    await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await admin.create('/api/v1/namespaces/shop/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
    });
    const servicePath = '/api/v1/namespaces/shop/services/web';
    const statusPatch = { status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } } };
    expect(await statusCode(controller.patch(`${servicePath}/status`, statusPatch))).to.equal(200);
    expect(await statusCode(controller.getJson(`/apis/anchorlb.io/v1beta1/namespaces/${NS}/ipaddresspools`))).to.equal(200);
    expect(await statusCode(controller.getJson(SECRET))).to.equal(403);
    expect(await statusCode(controller.getJson(`/api/v1/namespaces/${NS}/secrets`))).to.equal(403);
    expect(await statusCode(speaker.getJson(SECRET))).to.equal(200);
    expect(await statusCode(speaker.getJson('/api/v1/services'))).to.equal(200);
    expect(await statusCode(speaker.patch(`${servicePath}/status`, statusPatch))).to.equal(403);
    expect(await statusCode(speaker.patch(servicePath, { metadata: { labels: { touched: 'yes' } } }))).to.equal(403);
    expect(await statusCode(speaker.delete(servicePath))).to.equal(403);
    expect(await statusCode(speaker.getJson('/api/v1/namespaces/shop/secrets'))).to.equal(403);
    expect(await statusCode(speaker.delete(SECRET))).to.equal(403);
  });

  it('lets the real controller and speaker do their work with exactly those identities', async () => {
    const crd = (plural: string) => `/apis/anchorlb.io/v1beta1/namespaces/${NS}/${plural}`;
    await admin.create(crd('ipaddresspools'), { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'public' }, spec: { addresses: ['192.0.2.32/29'] } });
    await admin.create(crd('l2advertisements'), { apiVersion: 'anchorlb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'l2' }, spec: { ipAddressPools: ['public'] } });
    await admin.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node1', labels: { 'kubernetes.io/hostname': 'node1' } } });
    await admin.patch('/api/v1/nodes/node1/status', { status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '127.0.0.31' }] } });
    const controller = new ServiceController({
      kubeConfig: loadKubeConfig(await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-controller')),
      poolNamespace: NS,
      logger: createLogger('controller', 'silent'),
      registry: new Registry(),
    });
    let announced: ReadonlyMap<string, L2Announcement> = new Map();
    const speaker = new Speaker({
      kubeConfig: loadKubeConfig(await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-speaker')),
      nodeName: 'node1',
      namespace: NS,
      logger: createLogger('speaker', 'silent'),
      liveness: { key: Buffer.from(livenessKeyOf(await admin.getJson(SECRET)), 'base64'), port: 17956, bindAddress: '127.0.0.31', intervalMs: 50, missedHeartbeats: 5, interfaces: ['eth0'] },
      l2: { apply: (announcements) => void (announced = announcements), stop: () => Promise.resolve() },
      handOverMs: 10,
    });
    try {
      await controller.start();
      await speaker.start();
      await admin.create('/api/v1/namespaces/shop/services', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'api' },
        spec: { type: 'LoadBalancer', selector: { app: 'api' }, ports: [{ port: 443, protocol: 'TCP' }] },
      });
      const ip = await waitFor('controller assigns an address', async () => {
        const service = await admin.getJson<{ status?: { loadBalancer?: { ingress?: { ip: string }[] } } }>('/api/v1/namespaces/shop/services/api');
        return service.status?.loadBalancer?.ingress?.[0]?.ip;
      }, 30_000);
      expect(ip).to.match(/^192\.0\.2\.(3[2-9])$/);
      await waitFor('speaker announces it', () => announced.has(ip), 30_000);
    } finally {
      await speaker.shutdown();
      await controller.stop();
    }
  });

  it('rolls the workloads when the image, log level or node selector change, and keeps the liveness key', async () => {
    livenessKey = (await admin.getJson<{ data: { key: string } }>(SECRET)).data.key;
    await admin.patch(anchorlbPath(NS, 'anchorlb'), {
      spec: { logLevel: 'debug', controller: { image: 'anchorlb/anchorlb:0.2.0' }, speaker: { image: 'anchorlb/anchorlb:0.2.0', nodeSelector: { 'anchorlb.io/speaker': 'yes', 'kubernetes.io/os': null } } },
    });
    const daemonSet = await waitFor('speaker rolled', async () => {
      const current = await admin.getJson<PodTemplate>(DAEMONSET);
      return current.spec.template.spec.containers[0]?.image === 'anchorlb/anchorlb:0.2.0' ? current : undefined;
    }, 30_000);
    expect(daemonSet.spec.template.spec.nodeSelector).to.deep.equal({ 'anchorlb.io/speaker': 'yes' });
    expect(daemonSet.spec.template.spec.containers[0]?.args).to.include.members(['--log-level', 'debug']);
    const deployment = await waitFor('controller rolled', async () => {
      const current = await admin.getJson<PodTemplate>(DEPLOYMENT);
      return current.spec.template.spec.containers[0]?.image === 'anchorlb/anchorlb:0.2.0' ? current : undefined;
    }, 30_000);
    expect(deployment.spec.template.spec.containers[0]?.image).to.equal('anchorlb/anchorlb:0.2.0');
    expect((await admin.getJson<{ data: { key: string } }>(SECRET)).data.key).to.equal(livenessKey);
  });

  it('heals after a restart: what was deleted while it was down comes back', async () => {
    await stopOperator();
    await admin.delete(DEPLOYMENT);
    await admin.delete('/apis/rbac.authorization.k8s.io/v1/clusterroles/anchorlb-speaker');
    startOperator();
    await waitFor('Deployment back', () => exists(admin, DEPLOYMENT), 30_000);
    await waitFor('ClusterRole back', () => exists(admin, '/apis/rbac.authorization.k8s.io/v1/clusterroles/anchorlb-speaker'), 30_000);
  });

  it('puts back a workload edited by hand', async () => {
    const deployment = await admin.getJson<PodTemplate & { metadata: { resourceVersion: string } }>(DEPLOYMENT);
    const container = deployment.spec.template.spec.containers[0];
    if (container) container.image = 'someone/else:latest';
    await admin.replace(DEPLOYMENT, deployment);
    // The edit is itself an event on a workload the operator watches.
    await waitFor('image restored', async () => (await admin.getJson<PodTemplate>(DEPLOYMENT)).spec.template.spec.containers[0]?.image === 'anchorlb/anchorlb:0.2.0', 30_000);
  });

  it('retries writes the API server refuses for a while', async () => {
    await stopOperator();
    await admin.patch(anchorlbPath(NS, 'anchorlb'), { spec: { logLevel: 'warn' } });
    cluster.server.faults.conflictNextWrites(4);
    startOperator();
    await waitFor('log level applied', async () => (await admin.getJson<PodTemplate>(DAEMONSET)).spec.template.spec.containers[0]?.args.includes('warn'), 30_000);
    expect(operatorOutput).to.contain('reconcile failed');
  });

  it('exits when its watch fails, as the library does, and a restart heals what changed meanwhile', async () => {
    const child = operator;
    if (!child) throw new Error('operator not running');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The library re-watches after a watch ends; that re-watch failing ends the process.
    // Every request fails until then (the operator's other requests must not use the failures up).
    cluster.server.faults.failNext(1_000_000);
    cluster.server.faults.dropWatches();
    expect(await exited).to.equal(1);
    expect(operatorOutput).to.match(/watch on resource anchorlbs\.anchorlb\.io\/v1beta1 failed/);
    operator = undefined;
    cluster.server.faults.failNext(0);
    await admin.patch(anchorlbPath(NS, 'anchorlb'), { spec: { logLevel: 'error' } });
    startOperator();
    await waitFor('log level applied after restart', async () => (await admin.getJson<PodTemplate>(DAEMONSET)).spec.template.spec.containers[0]?.args.includes('error'), 30_000);
  });

  it('removes everything it created, cluster-scoped objects included, when the AnchorLB is deleted', async () => {
    await admin.delete(anchorlbPath(NS, 'anchorlb'));
    await waitFor('AnchorLB gone', async () => !(await exists(admin, anchorlbPath(NS, 'anchorlb'))), 30_000);
    for (const path of CREATED) expect(await exists(admin, path), path).to.equal(false);
  });

  it('never logs the liveness key', async () => {
    expect(livenessKey).to.have.length(44);
    expect(operatorOutput).to.not.contain(livenessKey);
    expect(operatorOutput).to.not.contain(Buffer.from(livenessKey, 'base64').toString('hex'));
    expect(operatorOutput).to.contain('"object":"Secret anchorlb-system/anchorlb-liveness"');
  });
});

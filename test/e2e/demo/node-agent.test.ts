// The node agent (src/localcluster/node-agent.ts) in real network namespaces against the local
// API server over HTTPS: a DaemonSet's pods run inside the nodes' namespaces with their
// downward-API env, Secret values and service-account identity (RBAC applies, the API server
// reached through the relay), are probed for readiness, restarted after a crash, rolled on a
// template change and stopped when the DaemonSet goes.
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createLogger } from '../../../src/common/log.ts';
import { NodeAgent } from '../../../src/localcluster/node-agent.ts';
import { KubeRest } from '../../../src/kube/rest.ts';
import { KUBECTL_PATH, withLocalApiServer } from '../../support/apiserver.ts';
import { Testbed, run, waitFor } from '../../support/testbed.ts';

const NS = 'agent-test';
const DAEMONSET = `/apis/apps/v1/namespaces/${NS}/daemonsets/web`;
const PORT = 8089;

interface DaemonSetStatus {
  desiredNumberScheduled?: number;
  numberReady?: number;
  updatedNumberScheduled?: number;
  observedGeneration?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function envFile(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe('node agent in network namespaces', function () {
  this.timeout(180_000);
  let testbed: Testbed | undefined;
  let agent: NodeAgent | undefined;
  let admin: KubeRest;
  let workDir: string;
  // Registered before the API server's own hook, so it runs first: the agent stops while the server still answers.
  after(async () => {
    await agent?.stop();
    await testbed?.destroy();
    rmSync(workDir, { recursive: true, force: true });
  });
  const cluster = withLocalApiServer({ tls: true });
  const nodeNs = (index: number) => testbed?.nodes[index]?.ns ?? '';
  const pods = () => agent?.pods() ?? [];

  const template = (marker: string, livenessPath?: string) => ({
    metadata: { labels: { app: 'web' } },
    spec: {
      serviceAccountName: 'web',
      hostNetwork: true,
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'web',
          command: ['sh', '-c'],
          // The env as the process sees it, then a server on the pod IP for the readiness probe.
          args: [`env > ${workDir}/$(NODE_NAME).env; exec python3 -m http.server ${PORT} --bind $(POD_IP)`],
          env: [
            { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'web', key: 'password' } } },
            { name: 'MARKER', value: marker },
          ],
          ports: [{ name: 'http', containerPort: PORT }],
          readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1, failureThreshold: 1 },
          ...(livenessPath ? { livenessProbe: { httpGet: { path: livenessPath, port: PORT }, periodSeconds: 1, failureThreshold: 2 } } : {}),
        },
      ],
    },
  });
  const status = async () => (await admin.getJson<{ status?: DaemonSetStatus; metadata: { generation: number } }>(DAEMONSET));
  const rolledOut = (marker: string) =>
    waitFor(`DaemonSet rolled out with MARKER=${marker}`, async () => {
      const current = await status();
      const s = current.status;
      if (s?.observedGeneration !== current.metadata.generation || s.numberReady !== 2 || s.updatedNumberScheduled !== 2) return undefined;
      return ['node1', 'node2'].every((node) => existsSync(join(workDir, `${node}.env`)) && envFile(join(workDir, `${node}.env`)).MARKER === marker) ? s : undefined;
    }, 60_000, 200);

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'anchorlb-agent-'));
    const created = await Testbed.create({ nodes: 2 });
    testbed = created;
    admin = new KubeRest(cluster.kubeConfig);
    await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await admin.create(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web' } });
    await admin.create(`/api/v1/namespaces/${NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'web' }, data: { password: Buffer.from('s3cret').toString('base64') } });
    agent = new NodeAgent({
      kubeConfig: cluster.kubeConfig,
      nodes: created.nodes.map((node, index) => ({ name: `node${index + 1}`, netns: node.ns, address: node.ipv4 })),
      workDir,
      relayApiServer: true,
      restartBackoffMs: { base: 200, max: 1000 },
      logger: createLogger('node-agent', 'error'),
    });
    await agent.start();
  });

  it('registers a Ready Node with its InternalIP and hostname label per namespace', async () => {
    const node = await admin.getJson<{ metadata: { labels: Record<string, string> }; status: { addresses: Array<{ type: string; address: string }>; conditions: Array<{ type: string; status: string }> } }>('/api/v1/nodes/node2');
    expect(node.metadata.labels).to.include({ 'kubernetes.io/hostname': 'node2', 'kubernetes.io/os': 'linux' });
    expect(node.status.addresses).to.deep.include({ type: 'InternalIP', address: '192.0.2.12' });
    expect(node.status.conditions.find((condition) => condition.type === 'Ready')?.status).to.equal('True');
  });

  it('runs one pod per node inside its namespace, with the resolved env, and reports the DaemonSet ready', async () => {
    await admin.create(`/apis/apps/v1/namespaces/${NS}/daemonsets`, { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, template: template('one') } });
    const s = await rolledOut('one');
    expect(s).to.include({ desiredNumberScheduled: 2, numberReady: 2 });
    const env = envFile(join(workDir, 'node1.env'));
    expect(env).to.include({ NODE_NAME: 'node1', POD_NAMESPACE: NS, POD_IP: '192.0.2.11', PASSWORD: 's3cret' });
    // Bound to 192.0.2.11, which exists only in node1's namespace: node2 reaches it over the bridge.
    const get = `import urllib.request; print(urllib.request.build_opener(urllib.request.ProxyHandler({})).open('http://192.0.2.11:${PORT}/', timeout=2).status)`;
    const fromNode2 = await run(['ip', 'netns', 'exec', nodeNs(1), 'python3', '-c', get]);
    expect(fromNode2.stdout.trim()).to.equal('200');
    const pods = await admin.getJson<{ items: Array<{ metadata: { name: string }; spec: { nodeName: string } }> }>(`/api/v1/namespaces/${NS}/pods`);
    expect(pods.items.map((pod) => `${pod.metadata.name}@${pod.spec.nodeName}`).sort()).to.deep.equal(['web-node1@node1', 'web-node2@node2']);
  });

  it('gives the process its service account identity, reaching the API server from inside the namespace (RBAC applies)', async () => {
    const env = envFile(join(workDir, 'node1.env'));
    const kubeconfig = env.KUBECONFIG ?? '';
    const denied = await run(['ip', 'netns', 'exec', nodeNs(0), KUBECTL_PATH, '--kubeconfig', kubeconfig, 'get', 'secrets', '-n', NS], { allowFailure: true });
    expect(denied.code).to.not.equal(0);
    expect(denied.stderr).to.match(/forbidden/i).and.include(`system:serviceaccount:${NS}:web`);
  });

  it('restarts a container that crashed, and the DaemonSet is ready again', async () => {
    const pod = pods().find((candidate) => candidate.name === 'web-node2');
    expect(pod?.pid).to.be.a('number');
    process.kill(pod?.pid as number, 'SIGKILL');
    const restarted = await waitFor('web-node2 restarted and ready', () => pods().find((candidate) => candidate.name === 'web-node2' && candidate.restarts === 1 && candidate.ready), 30_000, 100);
    expect(restarted.pid).to.not.equal(pod?.pid);
    await waitFor('numberReady 2', async () => (await status()).status?.numberReady === 2, 30_000, 200);
  });

  it('rolls every pod to a changed template', async () => {
    const before = pods().map((pod) => pod.pid);
    await admin.patch(DAEMONSET, { spec: { template: template('two') } }, 'merge');
    await rolledOut('two');
    const after = pods().map((pod) => pod.pid);
    expect(after.filter((pid) => before.includes(pid))).to.deep.equal([]);
  });

  it('restarts a container whose liveness probe fails (the server answers 404 there)', async () => {
    await admin.patch(DAEMONSET, { spec: { template: template('three', '/no-such-page') } }, 'merge');
    await waitFor('both pods restarted by their liveness probe', () => {
      const current = pods();
      return current.length === 2 && current.every((pod) => pod.restarts > 0);
    }, 60_000, 200);
    await admin.patch(DAEMONSET, { spec: { template: template('four') } }, 'merge');
    await rolledOut('four');
  });

  it('stops the processes and removes the Pod objects when the DaemonSet is deleted', async () => {
    const pids = pods().flatMap((pod) => (pod.pid === undefined ? [] : [pod.pid]));
    expect(pids).to.have.length(2);
    await admin.delete(DAEMONSET);
    await waitFor('processes gone', () => pods().length === 0 && pids.every((pid) => !alive(pid)), 30_000, 100);
    await waitFor('Pod objects gone', async () => (await admin.getJson<{ items: unknown[] }>(`/api/v1/namespaces/${NS}/pods`)).items.length === 0, 30_000, 200);
  });
});

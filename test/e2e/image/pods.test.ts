// The image runs under the pod specs as installed and rendered: the operator's Deployment from
// `kubectl kustomize config/default` (dist/install.yaml), then the controller Deployment and the
// speaker DaemonSet exactly as the operator wrote them to the project's API server, each in a
// real container (podman + runc) with that spec's user, capabilities, read-only root, volumes,
// memory limit and service-account token (test/support/image.ts podRunArgs, a kubelet's part).
// The pod network is stood in for by the node's network namespace (the API server is relayed
// into it by the node agent, which here runs no pods itself); the speaker has host networking.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { NodeAgent } from '../../../src/localcluster/node-agent.ts';
import { probePort, resolveEnv, type Container } from '../../../src/localcluster/workloads.ts';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';
import { CONTAINERS_CONF, ensureImage, podman, podRunArgs, type RenderedPodSpec } from '../../support/image.ts';
import { Testbed, waitFor } from '../../support/testbed.ts';

const NS = 'anchorlb-system';
const APP_NS = 'shop';
const NODE = 'node1';
const VIP = '192.0.2.200';

interface Workload {
  metadata: { name: string; namespace: string };
  spec: { template: { spec: RenderedPodSpec & { serviceAccountName?: string } } };
}

describe('the image under the rendered pod specs: operator, controller and L2 speaker in containers', function () {
  this.timeout(300_000);
  const workDir = mkdtempSync(join(tmpdir(), 'anchorlb-pods-'));
  const containerPrefix = `anchorlb-test-${randomBytes(3).toString('hex')}`;
  const running = new Map<string, ChildProcess>();
  let testbed: Testbed | undefined;
  let agent: NodeAgent | undefined;
  let failed = false;

  // Registered before the API server's hooks: mocha runs after hooks in the order they were added.
  after(async function () {
    this.timeout(120_000);
    for (const name of running.keys()) await podman(['rm', '--force', '--time', '5', `${containerPrefix}-${name}`], { allowFailure: true });
    await agent?.stop();
    await testbed?.destroy();
    if (failed) process.stderr.write(`container logs kept in ${workDir}\n`);
    else rmSync(workDir, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    failed = true;
    for (const name of running.keys()) {
      const log = join(workDir, `${name}.log`);
      if (existsSync(log)) process.stderr.write(`--- ${name} container log, last lines ---\n${readFileSync(log, 'utf8').split('\n').slice(-20).join('\n')}\n`);
    }
  });
  const cluster = withLocalApiServer({ tls: true });

  async function kubectl(args: readonly string[], stdin?: string): Promise<string> {
    const result = await cluster.kubectl(args, stdin === undefined ? {} : { stdin });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr.trim()}`);
    return result.stdout;
  }
  const bed = () => testbed as Testbed;
  const nodeNs = () => (bed().nodes[0] as Testbed['nodes'][number]).ns;

  /** What a kubelet projects for the pod's service account: token, CA and namespace, readable by any user. */
  async function serviceAccountDir(namespace: string, account: string): Promise<string> {
    const dir = join(workDir, `sa-${namespace}-${account}`);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const token = (await kubectl(['create', 'token', account, '-n', namespace, '--duration', '24h'])).trim();
    const ca = cluster.kubeConfig.getCurrentCluster()?.caData;
    if (!ca) throw new Error('the local API server runs without TLS: the in-cluster client needs its CA');
    writeFileSync(join(dir, 'token'), token, { mode: 0o644 });
    writeFileSync(join(dir, 'ca.crt'), Buffer.from(ca, 'base64'), { mode: 0o644 });
    writeFileSync(join(dir, 'namespace'), namespace, { mode: 0o644 });
    return dir;
  }

  /** Runs the one pod of `kind`/`name` as the API server holds it, on the node, in a container. */
  async function runPod(kind: 'deployment' | 'daemonset', name: string): Promise<{ workload: Workload; container: Container }> {
    const workload = JSON.parse(await kubectl(['get', kind, name, '-n', NS, '-o', 'json'])) as Workload;
    const spec = workload.spec.template.spec;
    const container = spec.containers[0] as unknown as Container;
    const podName = `${name}-${randomBytes(3).toString('hex')}`;
    const account = spec.serviceAccountName ?? 'default';
    const fields = { podName, namespace: NS, nodeName: NODE, podIP: bed().nodes[0]?.ipv4 ?? '', hostIP: bed().nodes[0]?.ipv4 ?? '', serviceAccountName: account };
    const env = {
      ...resolveEnv(container, fields, () => undefined),
      // Where a kubelet points in-cluster clients: the API server, relayed onto the node's loopback.
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: new URL(cluster.kubeConfig.getCurrentCluster()?.server ?? '').port,
    };
    const args = podRunArgs(spec, { name: `${containerPrefix}-${name}`, image: String(spec.containers[0]?.image), netns: nodeNs(), env, serviceAccountDir: await serviceAccountDir(NS, account) });
    const log = openSync(join(workDir, `${name}.log`), 'a');
    const child = spawn('env', [`CONTAINERS_CONF=${CONTAINERS_CONF}`, 'podman', ...args], { stdio: ['ignore', log, log] });
    closeSync(log);
    running.set(name, child);
    return { workload, container };
  }

  /** The container's readiness probe, as a kubelet would send it (from the node's namespace, to the rendered port). */
  async function ready(name: string, container: Container): Promise<boolean> {
    const child = running.get(name);
    if (child?.exitCode !== null && child?.exitCode !== undefined) throw new Error(`${name} exited (${child.exitCode}): ${readFileSync(join(workDir, `${name}.log`), 'utf8').slice(-2000)}`);
    const probe = container.readinessProbe?.httpGet;
    if (!probe) throw new Error(`${name}: no HTTP readiness probe rendered`);
    const url = `http://127.0.0.1:${probePort(container, probe.port)}${probe.path}`;
    const result = await bed().exec(nodeNs(), [process.execPath, '-e', `fetch(${JSON.stringify(url)}).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`], { allowFailure: true });
    return result.code === 0;
  }

  before(async function () {
    this.timeout(900_000);
    await ensureImage();
    testbed = await Testbed.create({ nodes: 1, client: true, prefix: `im${randomBytes(3).toString('hex')}` });
    agent = new NodeAgent({
      kubeConfig: cluster.kubeConfig,
      nodes: [{ name: NODE, netns: nodeNs(), address: bed().nodes[0]?.ipv4 ?? '' }],
      workDir,
      relayApiServer: true,
      runPods: false,
      logger: pino({ base: { component: 'node-agent' } }, pino.destination({ dest: join(workDir, 'node-agent.log'), sync: false })),
    });
    await agent.start();
    // What `kubectl apply -f dist/install.yaml` installs: namespace, CRDs, the operator's RBAC and Deployment.
    const install = await kubectl(['kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(REPO_ROOT, 'config/default')]);
    await kubectl(['apply', '-f', '-'], install);
    await kubectl(['create', 'namespace', APP_NS]);
  });

  it('the operator, under its installed Deployment, deploys the controller and the speakers of an AnchorLB', async () => {
    const { container } = await runPod('deployment', 'anchorlb-operator');
    await waitFor('the operator to be ready', () => ready('anchorlb-operator', container), 120_000, 500);
    await kubectl(['apply', '-f', join(REPO_ROOT, 'config/samples/anchorlb.yaml')]);
    await waitFor('the operator to create the controller Deployment and the speaker DaemonSet', async () => {
      const names = (await kubectl(['get', 'deployments,daemonsets', '-n', NS, '-o', 'name'])).split('\n');
      return names.includes('deployment.apps/anchorlb-controller') && names.includes('daemonset.apps/anchorlb-speaker');
    }, 120_000, 500);
    expect((await kubectl(['get', 'secret', 'anchorlb-liveness', '-n', NS, '-o', 'name'])).trim()).to.equal('secret/anchorlb-liveness');
  });

  it('the controller, under the Deployment the operator rendered, gives a Service its address', async () => {
    await kubectl(['apply', '-f', '-'], `apiVersion: anchorlb.io/v1beta1
kind: IPAddressPool
metadata: { name: shop, namespace: ${NS} }
spec:
  addresses: ["${VIP}/32"]
---
apiVersion: anchorlb.io/v1beta1
kind: L2Advertisement
metadata: { name: shop, namespace: ${NS} }
spec:
  ipAddressPools: [shop]
  interfaces: [${bed().iface}]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${APP_NS} }
spec:
  type: LoadBalancer
  selector: { app: web }
  ports: [{ name: http, port: 80, protocol: TCP }]
`);
    const { container } = await runPod('deployment', 'anchorlb-controller');
    await waitFor(`the Service to get ${VIP}`, async () => (await kubectl(['get', 'service', 'web', '-n', APP_NS, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim() === VIP, 120_000, 500);
    await waitFor('the controller to be ready', () => ready('anchorlb-controller', container), 60_000, 500);
  });

  it('an L2 speaker, under the DaemonSet the operator rendered (host network), answers ARP for the address and writes its VIPStatus', async () => {
    const { container } = await runPod('daemonset', 'anchorlb-speaker');
    const client = bed().client as NonNullable<Testbed['client']>;
    const links = JSON.parse((await bed().exec(nodeNs(), ['ip', '-j', 'link', 'show', 'dev', bed().iface])).stdout) as Array<{ address?: string }>;
    const nodeMac = (links[0]?.address ?? '').toLowerCase();
    await waitFor(`${NODE}'s MAC to answer ARP for ${VIP}`, async () => {
      const { stdout } = await bed().exec(client.ns, ['arping', '-c', '1', '-w', '2', '-I', bed().iface, VIP], { allowFailure: true });
      return stdout.toLowerCase().includes(`[${nodeMac}]`);
    }, 120_000, 500);
    const statuses = JSON.parse(await kubectl(['get', 'vipstatus', '-A', '-o', 'json'])) as { items: Array<{ status?: { ip?: string; node?: string; mode?: string } }> };
    expect(statuses.items.filter((item) => item.status?.ip === VIP).map((item) => [item.status?.node, item.status?.mode])).to.deep.equal([[NODE, 'L2']]);
    await waitFor('the speaker to be ready', () => ready('anchorlb-speaker', container), 60_000, 500);
  });
});

/**
 * Footprint of the three long-running processes (`npm run bench:footprint`): resident memory
 * (VmRSS after a settle time) and time to ready (spawn → the "<kind> running" log line, which
 * comes once its caches are synced) of `anchorlb speaker`, `controller` and `operator`, run
 *   - from the image, in a podman + runc container under the pod spec the operator renders
 *     (config/manager for the operator), time including the container's start;
 *   - compiled (bin/anchorlb.js running build/, `make build`);
 *   - through tsx (the sources, as every process ran before `make build`);
 * idle and with 1,000 LoadBalancer Services (with addresses, which the L2 speaker announces),
 * against bare node. Everything runs in a scratch network namespace (a one-node testbed, the
 * local API server relayed into it). Medians of RUNS (env BENCH_RUNS, default 3).
 * BENCH_KINDS and BENCH_VARIANTS (comma-separated) run a subset.
 * Targets: speaker < 80 MB at 1,000 Services, controller < 100 MB, ready < 1.5 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { parseAllDocuments } from 'yaml';
import type { AnchorLB } from '../src/api/index.ts';
import { startLocalApiServer } from '../src/localcluster/index.ts';
import { NodeAgent } from '../src/localcluster/node-agent.ts';
import { resolveEnv, type Container } from '../src/localcluster/workloads.ts';
import { KubeRest } from '../src/kube/rest.ts';
import { render, type Manifest } from '../src/operator/render.ts';
import { loadRbacTemplates } from '../src/operator/templates.ts';
import { REPO_ROOT, loadKubeConfig } from '../test/support/apiserver.ts';
import { CONTAINERS_CONF, ensureImage, podman, podRunArgs, type RenderedPodSpec } from '../test/support/image.ts';
import { Testbed, run } from '../test/support/testbed.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Subsets, comma-separated (env BENCH_KINDS, BENCH_VARIANTS): all by default. */
const KINDS = (process.env.BENCH_KINDS ?? 'speaker,controller,operator').split(',') as Kind[];
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'image,compiled,tsx').split(',') as Variant[];
const SERVICES = 1000;
/** How long after ready the RSS is read (env BENCH_SETTLE_MS). */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 5000);
const NS = 'anchorlb-system';
const NODE = 'bench-node';
const TARGETS = { readySeconds: 1.5, speakerMb: 80, controllerMb: 100 };

type Kind = 'speaker' | 'controller' | 'operator';
type Variant = 'image' | 'compiled' | 'tsx';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith('VmRSS:')) ?? '';
  return Number(/(\d+)/.exec(line)?.[1] ?? NaN) / 1024;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  await run(['make', '-s', '-C', REPO_ROOT, 'build'], { timeoutMs: 600_000 });
  await ensureImage();
  const workDir = mkdtempSync(join(tmpdir(), 'anchorlb-bench-footprint-'));
  const crdDir = join(REPO_ROOT, 'crds');
  const server = await startLocalApiServer({ host: '127.0.0.1', port: 0, dataDir: join(workDir, 'apiserver'), tls: true, crdFiles: readdirSync(crdDir).map((file) => join(crdDir, file)) });
  const kubeconfigPath = server.kubeconfigPath();
  const kubeConfig = loadKubeConfig(kubeconfigPath);
  const rest = new KubeRest(kubeConfig);
  const testbed = await Testbed.create({ nodes: 1, prefix: `fp${randomBytes(3).toString('hex')}` });
  const node = testbed.nodes[0] as Testbed['nodes'][number];
  const agent = new NodeAgent({ kubeConfig, nodes: [{ name: NODE, netns: node.ns, address: node.ipv4 }], workDir, relayApiServer: true, runPods: false, logger: pino({ level: 'warn' }) });
  const children = new Set<ChildProcess>();
  try {
    await agent.start();
    for (const name of [NS, 'bench']) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await rest.create(`/api/v1/namespaces/${NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'anchorlb-liveness' }, data: { key: randomBytes(32).toString('base64') } });
    await rest.create(`/apis/anchorlb.io/v1beta1/namespaces/${NS}/ipaddresspools`, { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'bench' }, spec: { addresses: ['198.18.0.0/22'] } });
    await rest.create(`/apis/anchorlb.io/v1beta1/namespaces/${NS}/l2advertisements`, { apiVersion: 'anchorlb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'bench' }, spec: { ipAddressPools: ['bench'], interfaces: [testbed.iface] } });
    const anchorlb = parseAllDocuments(readFileSync(join(REPO_ROOT, 'config/samples/anchorlb.yaml'), 'utf8'))[0]?.toJS() as AnchorLB;
    await rest.create(`/apis/anchorlb.io/v1beta1/namespaces/${NS}/anchorlbs`, anchorlb);

    // The pod specs: the operator's as installed, the others as the operator renders them.
    const rendered = render({ anchorlb: { ...anchorlb, metadata: { ...anchorlb.metadata, uid: 'bench' } }, rbacTemplates: await loadRbacTemplates(), livenessSecretExists: true, speakerSecretNames: [], generateLivenessKey: () => Buffer.alloc(32) });
    const manager = parseAllDocuments(readFileSync(join(REPO_ROOT, 'config/manager/manager.yaml'), 'utf8')).map((document) => document.toJS() as Manifest);
    const podSpecOf = (objects: Manifest[], kind: string, name: string) => (objects.find((object) => object.kind === kind && object.metadata.name === name)?.spec as { template: { spec: RenderedPodSpec } }).template.spec;
    const specs: Record<Kind, RenderedPodSpec> = {
      speaker: podSpecOf(rendered, 'DaemonSet', 'anchorlb-speaker'),
      controller: podSpecOf(rendered, 'Deployment', 'anchorlb-controller'),
      operator: podSpecOf(manager, 'Deployment', 'anchorlb-operator'),
    };
    // In-cluster credentials for the containers (admin's token, the server's CA), kubeconfig for the rest.
    const saDir = join(workDir, 'serviceaccount');
    mkdirSync(saDir, { mode: 0o755 });
    writeFileSync(join(saDir, 'token'), kubeConfig.getCurrentUser()?.token ?? '', { mode: 0o644 });
    writeFileSync(join(saDir, 'ca.crt'), Buffer.from(kubeConfig.getCurrentCluster()?.caData ?? '', 'base64'), { mode: 0o644 });
    writeFileSync(join(saDir, 'namespace'), NS, { mode: 0o644 });
    const port = new URL(kubeConfig.getCurrentCluster()?.server ?? '').port;

    async function start(kind: Kind, variant: Variant): Promise<{ pid: number; readyMs: number; stop(): Promise<void> }> {
      const spec = specs[kind];
      const container = spec.containers[0] as unknown as Container;
      const env = resolveEnv(container, { podName: `${kind}-bench`, namespace: NS, nodeName: NODE, podIP: node.ipv4, hostIP: node.ipv4, serviceAccountName: 'bench' }, () => undefined);
      const name = `anchorlb-bench-${kind}-${randomBytes(3).toString('hex')}`;
      const argv =
        variant === 'image'
          ? ['env', `CONTAINERS_CONF=${CONTAINERS_CONF}`, 'podman', ...podRunArgs(spec, { name, image: String(spec.containers[0]?.image), netns: node.ns, env: { ...env, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, serviceAccountDir: saDir })]
          : ['ip', 'netns', 'exec', node.ns, 'env', `KUBECONFIG=${kubeconfigPath}`, ...Object.entries(env).map(([key, value]) => `${key}=${value}`), process.execPath,
            ...(variant === 'compiled' ? [join(REPO_ROOT, 'bin/anchorlb.js')] : ['--import', 'tsx', '--input-type=module', '-e', `const { main } = await import(${JSON.stringify(join(REPO_ROOT, 'src/cli/main.ts'))}); await main(['node', 'anchorlb', ...process.argv.slice(1)]);`]),
            ...(container as { args?: string[] }).args ?? []];
      const started = performance.now();
      const child = spawn(argv[0] as string, argv.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      const output: string[] = [];
      child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      const readyMs = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${kind} (${variant}) not running after 120 s:\n${output.join('').slice(-3000)}`)), 120_000);
        child.once('exit', (code) => reject(new Error(`${kind} (${variant}) exited (${code}):\n${output.join('').slice(-3000)}`)));
        createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).on('line', (line) => {
          output.push(`${line}\n`);
          if (line.includes(`"msg":"${kind} running"`)) {
            clearTimeout(timer);
            resolve(performance.now() - started);
          }
        });
      });
      const pid = variant === 'image' ? Number((await podman(['inspect', '--format', '{{.State.Pid}}', name])).stdout.trim()) : (child.pid as number);
      return {
        pid,
        readyMs,
        stop: async () => {
          const gone = new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
          if (variant === 'image') await podman(['rm', '--force', '--time', '0', name], { allowFailure: true });
          else child.kill('SIGKILL');
          await gone;
          children.delete(child);
        },
      };
    }

    const bare = await testbed.spawn(node.ns, [process.execPath, '-e', 'setInterval(() => {}, 1000)'], { pipe: true });
    await sleep(2000);
    const bareMb = rssMb(bare.pid as number);
    await testbed.kill(bare);

    const rows: string[] = [];
    const verdicts: string[] = [];
    for (const services of [0, SERVICES]) {
      if (services > 0) {
        for (let i = 0; i < services; i++) {
          const name = `svc-${i}`;
          const ip = `198.18.${(i + 1) >> 8}.${(i + 1) & 255}`;
          await rest.create('/api/v1/namespaces/bench/services', { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] } });
          await rest.patch(`/api/v1/namespaces/bench/services/${name}/status`, { status: { loadBalancer: { ingress: [{ ip }] } } });
        }
      }
      for (const kind of KINDS) {
        for (const variant of VARIANTS) {
          const ready: number[] = [];
          const rss: number[] = [];
          for (let i = 0; i < RUNS; i++) {
            const process_ = await start(kind, variant);
            await sleep(SETTLE_MS);
            rss.push(rssMb(process_.pid));
            ready.push(process_.readyMs / 1000);
            await process_.stop();
          }
          const row = `${kind.padEnd(10)} ${variant.padEnd(8)} ${String(services).padStart(5)}   ${median(ready).toFixed(2).padStart(6)} s   ${median(rss).toFixed(0).padStart(4)} MB`;
          rows.push(row);
          process.stdout.write(`${row}\n`);
          if (variant === 'image' || variant === 'compiled') {
            const limit = kind === 'speaker' ? TARGETS.speakerMb : kind === 'controller' ? TARGETS.controllerMb : undefined;
            if (limit !== undefined && services === SERVICES) verdicts.push(`${kind} ${variant} at ${services} Services: ${median(rss).toFixed(0)} MB (target < ${limit} MB) ${median(rss) < limit ? 'met' : 'MISSED'}`);
            if (variant === 'compiled') verdicts.push(`${kind} compiled, ${services} Services, ready in ${median(ready).toFixed(2)} s (target < ${TARGETS.readySeconds} s) ${median(ready) < TARGETS.readySeconds ? 'met' : 'MISSED'}`);
          }
        }
      }
    }
    process.stdout.write(`\nbench:footprint — medians of ${RUNS} runs, RSS ${SETTLE_MS / 1000} s after ready; bare node ${bareMb.toFixed(0)} MB; load average ${loadavg().map((value) => value.toFixed(1)).join(' ')}\n`);
    process.stdout.write(`process    variant  Services  ready      RSS\n${rows.join('\n')}\n\n${verdicts.join('\n')}\n`);
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await agent.stop();
    await testbed.destroy();
    await server.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();

/**
 * Benchmark of the Service controller (`npm run bench:controller [-- --services N --runs R]`):
 * N (default 1,000) LoadBalancer Services created at once against the local API server,
 * with the real `anchorlb controller` process running → time until every one has an
 * address in status.loadBalancer.ingress. Each run has a fresh API server and a
 * fresh controller (synced before the burst starts). Prints each run and the
 * median against the target (issue 19: 1,000 in < 2 s, 10,000 in < 15 s). The
 * Services ask for no node ports (`allocateLoadBalancerNodePorts: false`): the
 * node port range (30000–32767) holds fewer than 10,000 and node ports are no
 * part of the controller's work.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KubeConfig, type V1Service } from '@kubernetes/client-node';
import { startLocalApiServer } from '../src/localcluster/index.ts';
import { Informer } from '../src/kube/informer.ts';
import { KubeRest } from '../src/kube/rest.ts';
import { REPO_ROOT } from '../test/support/apiserver.ts';
import { createAll, ipv6Service, startControllerProcess } from '../test/integration/reconcilers/controller-process.ts';

const { values: args } = parseArgs({ options: { services: { type: 'string', default: '1000' }, runs: { type: 'string', default: '5' } } });
const SERVICES = Number(args.services);
const RUNS = Number(args.runs);
for (const [flag, value] of [['--services', SERVICES], ['--runs', RUNS]] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(flag === '--services' ? args.services : args.runs)}`);
}
/** The issue's targets; other counts are measured against none. */
const TARGET_SECONDS = new Map([[1000, 2], [10000, 15]]).get(SERVICES);
const POOL_NAMESPACE = 'anchorlb-system';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Resolves once `count` Services in the namespace have an address (watched, not polled). */
async function allAddressed(kubeConfig: KubeConfig, namespace: string, count: number): Promise<{ done: Promise<void>; stop(): Promise<void> }> {
  const informer = new Informer<V1Service>(kubeConfig, { path: `/api/v1/namespaces/${namespace}/services` });
  const addressed = new Set<string>();
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const see = (service: V1Service) => {
    if ((service.status?.loadBalancer?.ingress ?? []).length > 0) addressed.add(service.metadata?.name ?? '');
    if (addressed.size >= count) resolveDone();
  };
  informer.on({ add: see, update: (_old, service) => see(service) });
  await informer.start();
  return { done, stop: () => informer.stop() };
}

/** Wall seconds until all are addressed, and the CPU seconds this process (API server and client) spent meanwhile. */
async function oneRun(): Promise<{ seconds: number; cpuSeconds: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'anchorlb-bench-controller-'));
  const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));
  const server = await startLocalApiServer({ host: '127.0.0.1', port: 0, dataDir, crdFiles });
  const kubeconfigPath = server.kubeconfigPath();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const rest = new KubeRest(kubeConfig);
  try {
    for (const name of [POOL_NAMESPACE, 'bench']) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await rest.create(`/apis/anchorlb.io/v1beta1/namespaces/${POOL_NAMESPACE}/ipaddresspools`, { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'bench' }, spec: { addresses: ['2001:db8:be::/112'] } });
    const controller = await startControllerProcess({ kubeconfigPath, poolNamespace: POOL_NAMESPACE });
    const watcher = await allAddressed(kubeConfig, 'bench', SERVICES);
    try {
      const services = Array.from({ length: SERVICES }, (_, i) => {
        const service = ipv6Service(`svc-${i}`);
        return { ...service, spec: { ...service.spec, allocateLoadBalancerNodePorts: false } };
      });
      const started = performance.now();
      const cpu = process.cpuUsage();
      await createAll(rest, '/api/v1/namespaces/bench/services', services);
      await watcher.done;
      const used = process.cpuUsage(cpu);
      return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
    } finally {
      await watcher.stop();
      await controller.kill('SIGTERM');
    }
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const seconds: number[] = [];
console.log(`bench:controller: ${SERVICES} LoadBalancer Services created at once (64 requests in flight) → all have addresses; ${RUNS} runs, load average ${loadavg()[0]?.toFixed(2)}`);
for (let run = 1; run <= RUNS; run++) {
  const { seconds: time, cpuSeconds } = await oneRun();
  seconds.push(time);
  console.log(`  run ${run}: ${time.toFixed(2)} s (API server and client process: ${cpuSeconds.toFixed(2)} s CPU)`);
}
const middle = median(seconds);
console.log(`median ${middle.toFixed(2)} s${TARGET_SECONDS === undefined ? '' : ` (target < ${TARGET_SECONDS} s: ${middle < TARGET_SECONDS ? 'met' : 'NOT met'})`}`);

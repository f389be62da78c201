/**
 * Benchmark of the Service controller (`npm run bench:controller`): 1,000
 * LoadBalancer Services created at once against the local API server, with the
 * real `anchorlb controller` process running → time until every one has an
 * address in status.loadBalancer.ingress. Each run has a fresh API server and a
 * fresh controller (synced before the burst starts). Prints each run and the
 * median against the target.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { KubeConfig, type V1Service } from '@kubernetes/client-node';
import { startLocalApiServer } from '../src/localcluster/index.ts';
import { Informer } from '../src/kube/informer.ts';
import { KubeRest } from '../src/kube/rest.ts';
import { REPO_ROOT } from '../test/support/apiserver.ts';
import { createAll, ipv6Service, startControllerProcess } from '../test/integration/reconcilers/controller-process.ts';

const RUNS = 5;
const SERVICES = 1000;
const TARGET_SECONDS = 5;
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

async function oneRun(): Promise<number> {
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
      const services = Array.from({ length: SERVICES }, (_, i) => ipv6Service(`svc-${i}`));
      const started = performance.now();
      await createAll(rest, '/api/v1/namespaces/bench/services', services);
      await watcher.done;
      return (performance.now() - started) / 1000;
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
  const time = await oneRun();
  seconds.push(time);
  console.log(`  run ${run}: ${time.toFixed(2)} s`);
}
const middle = median(seconds);
console.log(`median ${middle.toFixed(2)} s (target < ${TARGET_SECONDS} s: ${middle < TARGET_SECONDS ? 'met' : 'NOT met'})`);

// Speaker BGP convergence: a Service IP appears in the cluster state → the route is in the
// router's kernel FIB. Three node namespaces each run a BgpAnnouncer (the e2e driver) peering
// with FRR (bgpd + zebra); Services are added one at a time, each applied to all three nodes,
// and the time runs from handing the new state to the drivers until `ip monitor route` in the
// router namespace reports the /32 (first next hop installed: traffic can flow). Includes
// desiredBgpState, the UPDATE, FRR's best path and zebra's install.
//   npm run bench:bgp-convergence   (env BGP_CONVERGENCE_SERVICES, default 200; target p99 < 100 ms;
//                                    BGP_CONVERGENCE_ZEBRA_WQ=0: zebra's work-queue hold time, default 10 ms, set to 0)
import { createInterface } from 'node:readline';
import { run, Testbed, waitFor } from '../test/support/testbed.ts';
import type { ClusterStateJson } from '../test/e2e/speaker-bgp/driver.ts';
import { NodeDriver } from '../test/e2e/speaker-bgp/node-driver.ts';

const SERVICES = Number(process.env.BGP_CONVERGENCE_SERVICES ?? 200);
const ROUTER_AS = 64512;
const NODE_AS = 65001;
const ZEBRA_WORK_QUEUE_MS = process.env.BGP_CONVERGENCE_ZEBRA_WQ;

if (!Number.isInteger(SERVICES) || SERVICES < 1 || SERVICES > 250) throw new Error(`BGP_CONVERGENCE_SERVICES must be 1..250 (one address each in 203.0.113.0/24), got ${process.env.BGP_CONVERGENCE_SERVICES}`);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function stateWith(count: number): ClusterStateJson {
  return {
    peers: [{ name: 'router', createdAt: '2026-01-01T00:00:00Z', myASN: NODE_AS, peerASN: ROUTER_AS, peerAddress: '192.0.2.1' }],
    advertisements: [{ name: 'all' }],
    pools: [{ name: 'pool' }],
    services: Array.from({ length: count }, (_, i) => ({ key: `bench/svc${i + 1}`, ips: [`203.0.113.${i + 1}`], pool: 'pool', externalTrafficPolicy: 'Cluster' as const, nodesWithReadyEndpoints: [] })),
  };
}

const tb = await Testbed.create({ nodes: 3 });
try {
  const frr = await tb.startFrr(tb.router.ns, { asn: ROUTER_AS, routerId: tb.router.ipv4, neighbors: tb.nodes.map((n) => ({ address: n.ipv4, asn: NODE_AS })) });
  if (ZEBRA_WORK_QUEUE_MS !== undefined) await run(['vtysh', '--vty_socket', frr.dir, '-c', 'configure terminal', '-c', `zebra work-queue ${ZEBRA_WORK_QUEUE_MS}`]);
  const drivers = await Promise.all(tb.nodes.map((host) => NodeDriver.start(tb, host)));
  await Promise.all(drivers.map((d) => d.apply(stateWith(0))));
  await Promise.all(drivers.map((d) => d.waitEstablished('router')));

  const installedAt = new Map<string, number>();
  const monitor = await tb.spawn(tb.router.ns, ['ip', '-4', '-o', 'monitor', 'route'], { pipe: true });
  createInterface({ input: monitor.stdout! }).on('line', (line) => {
    const prefix = /^(203\.0\.113\.\d+) /.exec(line)?.[1];
    if (prefix !== undefined && !installedAt.has(prefix)) installedAt.set(prefix, performance.now());
  });
  // The monitor is listening once it reports a route we add ourselves (re-added until it does).
  await waitFor('ip monitor ready', async () => {
    if (installedAt.has('203.0.113.254')) return true;
    await tb.exec(tb.router.ns, ['ip', 'route', 'del', '203.0.113.254/32', 'dev', 'lo'], { allowFailure: true });
    await tb.exec(tb.router.ns, ['ip', 'route', 'add', '203.0.113.254/32', 'dev', 'lo']);
    return false;
  }, 10_000, 50);

  const latencies: number[] = [];
  /** Until every driver has applied the state (sessions have the routes): the speaker's share. */
  const applyTimes: number[] = [];
  for (let count = 1; count <= SERVICES; count++) {
    const ip = `203.0.113.${count}`;
    const state = stateWith(count);
    const start = performance.now();
    const applied = Promise.all(drivers.map((d) => d.apply(state))).then(() => applyTimes.push(performance.now() - start));
    await waitFor(`${ip} in the router's FIB`, () => installedAt.has(ip), 30_000, 1);
    latencies.push((installedAt.get(ip) as number) - start);
    await applied;
  }
  await waitFor('every Service with three next hops', async () => (await frr.fibNexthops(`203.0.113.${SERVICES}`)) === 3, 30_000);
  const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;
  console.log(`BGP convergence, Service IP in the cluster state → route in FRR's FIB (3 speakers, ${SERVICES} Services, one at a time, zebra work-queue ${ZEBRA_WORK_QUEUE_MS ?? 'default'})`);
  console.log(`  p50 ${fmt(percentile(latencies, 50))}   p99 ${fmt(percentile(latencies, 99))}   max ${fmt(Math.max(...latencies))}   (target p99 < 100 ms: ${percentile(latencies, 99) < 100 ? 'met' : 'NOT met'})`);
  console.log(`  of which state handed to the 3 drivers and applied: p50 ${fmt(percentile(applyTimes, 50))}   p99 ${fmt(percentile(applyTimes, 99))}`);
} finally {
  await tb.destroy();
}

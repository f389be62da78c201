// L2 failover outage seen by a client: it pings a VIP every 5 ms while the owner is disrupted,
// for IPv4 and IPv6; three speakers (test/e2e/l2/driver.ts) with the default liveness (100 ms
// heartbeats, 5 missed = 500 ms detection) and claim timing. Cases:
// - planned: SIGTERM to the owner's speaker (leave, hand over);
// - speaker crash: SIGKILL to the owner's speaker; the node itself keeps running and, with
//   the VIP still on its lo, keeps answering the traffic that reaches it;
// - node crash: SIGKILL and the node's bridge port down at once (nothing reaches it any more);
// - link down: only the bridge port down (the speaker runs on, cut off).
// Prints p50/p99 of the lost probes and of the outage (longest silence between replies).
//   npm run bench:failover      (env FAILOVER_TRIALS: trials per case, default 20)
import { DEFAULT_LIVENESS } from '../src/speaker/liveness/membership.ts';
import { L2Cluster } from '../test/e2e/l2/cluster.ts';
import type { ClusterL2StateJson } from '../test/e2e/l2/driver.ts';
import { percentile } from './stats.ts';

const TRIALS = Number(process.env.FAILOVER_TRIALS ?? 20);
const INTERVAL_MS = 5;
const VIPS = { IPv4: '192.0.2.100', IPv6: '2001:db8::100' } as const;

const STATE: ClusterL2StateJson = {
  advertisements: [{ name: 'l2', bindToInterface: 'lo' }],
  pools: [{ name: 'pool' }],
  nodes: ['node1', 'node2', 'node3'].map((name) => ({ name, ready: true })),
  services: [{ key: 'default/web', ips: Object.values(VIPS), pool: 'pool', externalTrafficPolicy: 'Cluster', nodesWithReadyEndpoints: [] }],
};


const DISRUPTIONS = ['planned (SIGTERM)', 'speaker crash (SIGKILL)', 'node crash', 'link down'] as const;
type Disruption = (typeof DISRUPTIONS)[number];

async function trial(cluster: L2Cluster, ip: string, disruption: Disruption): Promise<{ lost: number; outageMs: number }> {
  let victim = '';
  const result = await cluster.measureFailover(
    ip,
    async (owner) => {
      victim = owner;
      const cut = disruption === 'node crash' || disruption === 'link down' ? cluster.setLink(owner, false) : undefined;
      const signal = disruption === 'planned (SIGTERM)' ? 'SIGTERM' : disruption === 'link down' ? undefined : 'SIGKILL';
      await Promise.all([cut, signal && cluster.signal(owner, signal)]);
    },
    INTERVAL_MS,
  );
  // Put the node back: the election gives it its IPs again (a move back, not measured).
  if (disruption === 'node crash' || disruption === 'link down') await cluster.setLink(victim, true);
  if (disruption !== 'link down') await cluster.start(victim);
  await cluster.settledOwner(ip);
  return { lost: result.lost.length, outageMs: result.outageMs };
}

async function main(): Promise<void> {
  if (!Number.isInteger(TRIALS) || TRIALS < 1) throw new Error(`FAILOVER_TRIALS: ${JSON.stringify(process.env.FAILOVER_TRIALS)} must be a positive integer`);
  const cluster = await L2Cluster.create({ state: STATE, intervalMs: DEFAULT_LIVENESS.intervalMs, missedHeartbeats: DEFAULT_LIVENESS.missedHeartbeats, prefix: `fob${process.pid.toString(36).slice(-5)}` });
  try {
    console.log(`L2 failover, client pings the VIP every ${INTERVAL_MS} ms, ${TRIALS} trials per case; detection ${DEFAULT_LIVENESS.intervalMs} ms x ${DEFAULT_LIVENESS.missedHeartbeats}`);
    console.log('case                        family  lost p50  lost p99  outage p50 ms  outage p99 ms  max ms');
    for (const disruption of DISRUPTIONS) {
      for (const [family, ip] of Object.entries(VIPS)) {
        const results: Array<{ lost: number; outageMs: number }> = [];
        for (let i = 0; i < TRIALS; i++) results.push(await trial(cluster, ip, disruption));
        const lost = results.map((r) => r.lost);
        const outage = results.map((r) => r.outageMs);
        console.log(
          `${disruption.padEnd(28)}${family.padEnd(8)}${String(percentile(lost, 50)).padStart(8)}  ${String(percentile(lost, 99)).padStart(8)}  ` +
            `${percentile(outage, 50).toFixed(1).padStart(13)}  ${percentile(outage, 99).toFixed(1).padStart(13)}  ${Math.max(...outage).toFixed(1).padStart(6)}`,
        );
      }
    }
    console.log('targets: planned 0 lost probes, crash < 1000 ms (node crash and link down are bounded by detection + probe wait)');
    console.log('peers (their documented defaults, not measured here): MetalLB memberlist several s, Cilium L2 leases 10-20 s, kube-vip leases 15 s');
  } finally {
    await cluster.destroy();
  }
}

await main();

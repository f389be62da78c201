// Node failure → the node's next hop gone from the router's kernel route, with BFD at 300 ms × 3
// and 50 ms × 3 (FRR `neighbor X bfd profile`), side by side with the same failure detected by
// the BGP hold timer alone (hold time 9 s). Two nodes announce one VIP (BgpAnnouncer through
// test/e2e/speaker-bgp/driver.ts); a trial cuts node1's link (a dead node sends nothing) and
// polls the router's FIB until one next hop is left, then restores the link and waits for two.
// Prints p50/p99/max per case and the poll resolution. Then the false-Down count: both nodes
// Up at 50 ms × 3 for BFD_SOAK_MIN minutes on whatever load the machine has.
//   npm run bench:bfd      (env BFD_TRIALS: trials per case, default 20; BFD_SOAK_MIN, default 10)
import { loadavg } from 'node:os';
import type { BfdProfileView, BgpPeerView } from '../src/speaker/bgp/desired.ts';
import { run, Testbed, waitFor, type Host } from '../test/support/testbed.ts';
import type { ClusterStateJson } from '../test/e2e/speaker-bgp/driver.ts';
import { NodeDriver } from '../test/e2e/speaker-bgp/node-driver.ts';
import { percentile } from './stats.ts';

const TRIALS = Number(process.env.BFD_TRIALS ?? 20);
const SOAK_MIN = Number(process.env.BFD_SOAK_MIN ?? 10);
const VIP = '203.0.113.10';
const ROUTER_AS = 64512;
const NODE_AS = 65001;

const profile = (ms: number): BfdProfileView => ({ receiveIntervalMs: ms, transmitIntervalMs: ms, detectMultiplier: 3, passive: false, minimumTtl: 254, echoMode: false });
const peer = (bfdMs: number | undefined): BgpPeerView => ({
  name: 'router',
  createdAt: '2026-01-01T00:00:00Z',
  myASN: NODE_AS,
  peerASN: ROUTER_AS,
  peerAddress: '192.0.2.1',
  holdTimeSec: 9,
  connectTimeSec: 1,
  ...(bfdMs !== undefined ? { bfdProfile: 'bench', bfd: profile(bfdMs) } : {}),
});
const state = (bfdMs: number | undefined): ClusterStateJson => ({
  peers: [peer(bfdMs)],
  advertisements: [{ name: 'all' }],
  pools: [{ name: 'pool' }],
  services: [{ key: 'default/web', ips: [VIP], pool: 'pool', externalTrafficPolicy: 'Cluster', nodesWithReadyEndpoints: [] }],
});

const CASES: Array<{ name: string; bfdMs: number | undefined; bound: number }> = [
  { name: 'BFD 300 ms × 3', bfdMs: 300, bound: 900 },
  { name: 'BFD 50 ms × 3', bfdMs: 50, bound: 150 },
  { name: 'BGP hold time 9 s', bfdMs: undefined, bound: 9000 },
];

async function main(): Promise<void> {
  const loadBefore = loadavg()[0] as number;
  const tb = await Testbed.create({ nodes: 2 });
  try {
    const [n1, n2] = tb.nodes as [Host, Host];
    const frr = await tb.startFrr(tb.router.ns, {
      asn: ROUTER_AS,
      routerId: tb.router.ipv4,
      neighbors: [n1, n2].map((n) => ({ address: n.ipv4, asn: NODE_AS, bfd: { profile: 'bench' } })),
      bfd: { profiles: [{ name: 'bench', receiveMs: 300, transmitMs: 300, multiplier: 3 }] },
    });
    const vty = (...lines: string[]): Promise<unknown> => run(['vtysh', '--vty_socket', frr.dir, '-c', 'configure terminal', ...lines.flatMap((line) => ['-c', line])]);
    const drivers = (await Promise.all([n1, n2].map((host) => NodeDriver.start(tb, host)))) as [NodeDriver, NodeDriver];
    const rows: string[] = [];
    for (const c of CASES) {
      if (c.bfdMs === undefined) await vty(`router bgp ${ROUTER_AS}`, `no neighbor ${n1.ipv4} bfd`, `no neighbor ${n2.ipv4} bfd`);
      else await vty('bfd', 'profile bench', `receive-interval ${c.bfdMs}`, `transmit-interval ${c.bfdMs}`);
      await Promise.all(drivers.map((d) => d.apply(state(c.bfdMs))));
      const gone: number[] = [];
      const polls: number[] = [];
      for (let i = 0; i < TRIALS; i++) {
        await waitFor('two next hops', async () => (await frr.fibNexthops(VIP)) === 2, 120_000);
        if (c.bfdMs !== undefined) {
          await waitFor(`BFD at ${c.bfdMs} ms`, async () => {
            const p = await frr.bfdPeer(n1.ipv4, false);
            return p?.status === 'up' && p['remote-transmit-interval'] === c.bfdMs && p['transmit-interval'] === c.bfdMs;
          }, 60_000);
        }
        const start = performance.now();
        await tb.exec(n1.ns, ['ip', 'link', 'set', tb.iface, 'down']);
        let last = start;
        while ((await frr.fibNexthops(VIP)) !== 1) {
          const now = performance.now();
          polls.push(now - last);
          last = now;
        }
        gone.push(performance.now() - start);
        await tb.exec(n1.ns, ['ip', 'link', 'set', tb.iface, 'up']);
      }
      const over = gone.filter((ms) => ms > c.bound + 100).length;
      rows.push(
        `${c.name.padEnd(20)}${percentile(gone, 50).toFixed(0).padStart(8)}  ${percentile(gone, 99).toFixed(0).padStart(8)}  ${Math.max(...gone).toFixed(0).padStart(8)}  ${String(c.bound).padStart(10)}  ${String(over).padStart(12)}  ${percentile(polls, 50).toFixed(0).padStart(6)}`,
      );
    }
    // False Downs: 50 ms × 3 on both nodes, nothing disturbed.
    await vty(`router bgp ${ROUTER_AS}`, `neighbor ${n1.ipv4} bfd`, `neighbor ${n1.ipv4} bfd profile bench`, `neighbor ${n2.ipv4} bfd`, `neighbor ${n2.ipv4} bfd profile bench`);
    await vty('bfd', 'profile bench', 'receive-interval 50', 'transmit-interval 50');
    await Promise.all(drivers.map((d) => d.apply(state(50))));
    const downs = async (): Promise<number> => {
      let total = 0;
      for (const n of [n1, n2]) total += (await frr.bfdPeer(n.ipv4, false))?.counters?.['session-down'] ?? NaN;
      return total;
    };
    await waitFor('both BFD sessions at 50 ms', async () => {
      const peers = await Promise.all([n1, n2].map((n) => frr.bfdPeer(n.ipv4, false)));
      return peers.every((p) => p?.status === 'up' && p['remote-transmit-interval'] === 50 && p['transmit-interval'] === 50);
    }, 120_000);
    const soakLoad = loadavg()[0] as number;
    const downsBefore = await downs();
    await new Promise((resolve) => setTimeout(resolve, SOAK_MIN * 60_000));
    const falseDowns = (await downs()) - downsBefore;
    console.log(`bfd benchmark: node1's link cut → its next hop gone from the router's kernel route, ${TRIALS} trials per case (node ${process.version}; load average ${loadBefore.toFixed(1)} -> ${(loadavg()[0] as number).toFixed(1)})`);
    console.log(`${'case'.padEnd(20)}${'p50 ms'.padStart(8)}  ${'p99 ms'.padStart(8)}  ${'max ms'.padStart(8)}  ${'detect ms'.padStart(10)}  ${'> detect+100'.padStart(12)}  ${'poll ms'.padStart(6)}`);
    for (const row of rows) console.log(row);
    console.log(`false Downs at 50 ms × 3, 2 sessions, ${SOAK_MIN} min (load average ${soakLoad.toFixed(1)} -> ${(loadavg()[0] as number).toFixed(1)}): ${falseDowns}`);
  } finally {
    await tb.destroy();
  }
}

await main();

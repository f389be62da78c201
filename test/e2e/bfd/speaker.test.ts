/**
 * BFD in the speaker's BGP mode (BgpAnnouncer through test/e2e/speaker-bgp/driver.ts, one per
 * node namespace) with FRR's `neighbor X bfd`: three nodes announce one VIP by ECMP.
 *
 * FRR: bgpd + bfdd + zebra, `neighbor X bfd profile fast` (node1 and node3 also `bfd
 * check-control-plane-failure`); profile fast = 100 ms × 3. The BGP hold time is 9 s: a next hop that leaves the router's
 * kernel route well before that was removed by BFD, not by the hold timer.
 */
import { expect } from 'chai';
import type { BfdProfileView, BgpPeerView } from '../../../src/speaker/bgp/desired.ts';
import { Testbed, waitFor, type FrrRouter, type Host } from '../../support/testbed.ts';
import type { ClusterStateJson } from '../speaker-bgp/driver.ts';
import { NodeDriver } from '../speaker-bgp/node-driver.ts';

const ROUTER_AS = 64512;
const NODE_AS = 65001;
const VIP = '203.0.113.10';
const fast: BfdProfileView = { receiveIntervalMs: 100, transmitIntervalMs: 100, detectMultiplier: 3, passive: false, minimumTtl: 254, echoMode: false };
const routerPeer: BgpPeerView = { name: 'router', createdAt: '2026-01-01T00:00:00Z', myASN: NODE_AS, peerASN: ROUTER_AS, peerAddress: '192.0.2.1', enableGracefulRestart: true, holdTimeSec: 9, bfdProfile: 'fast', bfd: fast };

function clusterState(peer: BgpPeerView = routerPeer): ClusterStateJson {
  return {
    peers: [peer],
    advertisements: [{ name: 'all' }],
    pools: [{ name: 'pool' }],
    services: [{ key: 'default/web', ips: [VIP], pool: 'pool', externalTrafficPolicy: 'Cluster', nodesWithReadyEndpoints: [] }],
  };
}

describe('speaker BGP mode with BFD → FRR `neighbor X bfd`', function () {
  this.timeout(300_000);
  let tb: Testbed;
  let frr: FrrRouter;
  let n1: Host;
  let n2: Host;
  let n3: Host;
  let d1: NodeDriver;
  let d2: NodeDriver;
  let d3: NodeDriver;

  const bfdUp = (driver: NodeDriver): Promise<unknown> =>
    waitFor(`${driver.node.name}: BFD Up in the peer status`, async () => (await driver.peer('router'))?.bfd?.state === 'Up');
  const connections = async (address: string): Promise<number> => Number((await frr.neighbor(address)).connectionsEstablished ?? NaN);

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    tb = await Testbed.create({ nodes: 3 });
    [n1, n2, n3] = tb.nodes as [Host, Host, Host];
    frr = await tb.startFrr(tb.router.ns, {
      asn: ROUTER_AS,
      routerId: tb.router.ipv4,
      // node2 without check-control-plane-failure: with it, FRR ignores a BFD Down from a graceful-restart
      // peer that sends C = 0 (as we do), so a dead node would wait for the hold timer. node3 with it:
      // the planned stop keeps its routes.
      neighbors: [
        { address: n1.ipv4, asn: NODE_AS, bfd: { profile: 'fast', checkControlPlaneFailure: true } },
        { address: n2.ipv4, asn: NODE_AS, bfd: { profile: 'fast' } },
        // FRR 8.4 drops the session and routes on a BFD AdminDown unless check-control-plane-failure is set.
        { address: n3.ipv4, asn: NODE_AS, bfd: { profile: 'fast', checkControlPlaneFailure: true } },
      ],
      bfd: { profiles: [{ name: 'fast', receiveMs: 100, transmitMs: 100, multiplier: 3 }] },
    });
    // Starting node + tsx takes long on a loaded machine.
    [d1, d2, d3] = (await Promise.all([n1, n2, n3].map((host) => NodeDriver.start(tb, host)))) as [NodeDriver, NodeDriver, NodeDriver];
    await Promise.all([d1, d2, d3].map((d) => d.apply(clusterState())));
  });

  after(async () => {
    await tb?.destroy();
  });

  it('a BFD session per (node, peer) from the BGP session address comes Up; its state is in the peer status', async () => {
    await d1.waitEstablished('router', 60_000);
    await d2.waitEstablished('router', 60_000);
    await bfdUp(d1);
    await bfdUp(d2);
    for (const n of [n1, n2]) {
      const peer = await waitFor(`FRR BFD with ${n.ipv4} Up`, async () => {
        const p = await frr.bfdPeer(n.ipv4, false);
        return p?.status === 'up' && p['remote-transmit-interval'] === 100 ? p : undefined;
      });
      expect(peer.local).to.equal(tb.router.ipv4);
    }
    const status = await d1.peer('router');
    expect(status?.bfd).to.include({ profile: 'fast', state: 'Up', transmitIntervalMs: 100, detectionTimeMs: 300 });
    await waitFor('three FIB next hops', async () => (await frr.fibNexthops(VIP)) === 3);
  });

  it('a profile change reaches FRR by Poll: no BFD flap, the BGP session is not restarted', async () => {
    const before = await connections(n1.ipv4);
    const bfdBefore = await frr.bfdPeer(n1.ipv4, false);
    await d1.apply(clusterState({ ...routerPeer, bfd: { ...fast, transmitIntervalMs: 150, detectMultiplier: 4 } }));
    const after = await waitFor('FRR sees 150 ms × 4', async () => {
      const p = await frr.bfdPeer(n1.ipv4, false);
      return p?.['remote-transmit-interval'] === 150 && p['remote-detect-multiplier'] === 4 ? p : undefined;
    });
    expect(after.status).to.equal('up');
    expect(after.counters?.['session-down']).to.equal(bfdBefore?.counters?.['session-down']);
    expect(await connections(n1.ipv4)).to.equal(before);
    await d1.apply(clusterState());
  });

  it('a missing profile and echo mode are refused on the peer status; BGP keeps running', async () => {
    await d1.apply(clusterState({ ...routerPeer, bfdProfile: 'gone', bfd: undefined }));
    const missing = await d1.peer('router');
    expect(missing?.bfd).to.deep.include({ profile: 'gone', state: 'Refused' });
    expect(missing?.bfd?.error).to.contain('BFDProfile "gone" not found');
    expect(missing?.state).to.equal('Established');
    await d1.apply(clusterState({ ...routerPeer, bfd: { ...fast, echoMode: true } }));
    expect((await d1.peer('router'))?.bfd?.error).to.contain('echoMode is not supported');
    // Back to the profile: BFD comes Up again.
    await d1.apply(clusterState());
    await bfdUp(d1);
    await waitFor('FRR BFD with node1 Up again', async () => (await frr.bfdPeer(n1.ipv4, false))?.status === 'up');
  });

  it('node failure (link cut, speaker killed): FRR removes the node from its kernel route by BFD, before the 9 s hold time', async () => {
    await waitFor('three FIB next hops', async () => (await frr.fibNexthops(VIP)) === 3);
    await bfdUp(d2);
    // Link first: a dead node sends nothing. Killing the process first would let its kernel close
    // the TCP session, and FRR, a graceful-restart helper, would keep the routes as stale.
    await tb.exec(n2.ns, ['ip', 'link', 'set', tb.iface, 'down']);
    await tb.kill(d2.child, 'SIGKILL');
    // Generous bound on the product claim: detection is 300 ms; the hold timer would take 9 s.
    await waitFor('two FIB next hops', async () => (await frr.fibNexthops(VIP)) === 2, 6000, 50);
    expect((await frr.bfdPeer(n2.ipv4, false))?.diagnostic).to.equal('control detection time expired');
  });

  it('planned stop (SIGTERM, graceful restart, router with check-control-plane-failure): AdminDown reaches FRR first, and the node\'s route is kept as stale', async () => {
    await bfdUp(d3);
    await d3.terminate();
    const peer = await frr.bfdPeer(n3.ipv4, false);
    expect(peer?.['remote-diagnostic']).to.equal('administratively down');
    const paths = await waitFor('node3 path stale', async () => {
      const found = (await frr.paths(`${VIP}/32`)).filter((p) => p.nexthops?.some((h) => h.ip === n3.ipv4));
      return found.length === 1 && found[0]?.stale === true ? found : undefined;
    }, 10_000);
    expect(paths).to.have.length(1);
    expect(await frr.fibNexthops(VIP)).to.equal(2);
  });

  it('BFD Down on our side tears the BGP session down at once (router bfdd killed)', async () => {
    await tb.kill(frr.bfdd!, 'SIGKILL');
    const status = await waitFor('node1 reports BFD down', async () => {
      const p = await d1.peer('router');
      return p?.lastError?.startsWith('BFD down (ControlDetectionTimeExpired)') ? p : undefined;
    }, 10_000);
    expect(status.bfd).to.include({ state: 'Down', diag: 'ControlDetectionTimeExpired', lastDownReason: 'ControlDetectionTimeExpired' });
  });
});

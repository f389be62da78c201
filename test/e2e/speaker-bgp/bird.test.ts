/**
 * BGP mode, basic case with BIRD 2 as the router: three nodes announce a Service IP, BIRD
 * has a path from each and installs one ECMP route in the kernel; a Service that goes is
 * withdrawn; a speaker stopped for good (Cease) takes its next hop with it. Two peers per
 * node with disableMP (one IPv4, one IPv6 session): each family goes over its own session,
 * although BIRD would take IPv6 over the IPv4 session too.
 */
import { expect } from 'chai';
import type { BgpPeerView } from '../../../src/speaker/bgp/desired.ts';
import { Testbed, waitFor, type BirdRouter } from '../../support/testbed.ts';
import type { ClusterStateJson } from './driver.ts';
import { NodeDriver } from './node-driver.ts';
import { requireRoot } from '../../support/preconditions.ts';

const ROUTER_AS = 64512;
const NODE_AS = 65001;
const peer: BgpPeerView = { name: 'bird', createdAt: '2026-01-01T00:00:00Z', myASN: NODE_AS, peerASN: ROUTER_AS, peerAddress: '192.0.2.1', holdTimeSec: 9, disableMP: true };
const peer6: BgpPeerView = { ...peer, name: 'bird6', peerAddress: '2001:db8::1' };
const VIP6 = '2001:db8:ffff::10';

function clusterState(ips: string[]): ClusterStateJson {
  return {
    peers: [peer, peer6],
    advertisements: [{ name: 'all', communities: ['65001:100'] }],
    pools: [{ name: 'pool' }],
    services: ips.map((ip, i) => ({ key: `default/svc${i}`, ips: [ip], pool: 'pool', externalTrafficPolicy: 'Cluster' as const, nodesWithReadyEndpoints: [] })),
  };
}

describe('speaker BGP mode: three nodes → BIRD 2', function () {
  this.timeout(90_000);
  let tb: Testbed;
  let bird: BirdRouter;
  let drivers: NodeDriver[] = [];
  /** Next hops of every path BIRD has for `prefix` (BIRD 2.0 prints each `via` on its own line). */
  const birdNextHops = async (prefix: string): Promise<string[]> => [...(await bird.birdc(`show route for ${prefix}`)).matchAll(/^\s+via (\S+)/gm)].map((m) => m[1] ?? '').sort();
  const fibNexthops = async (ip: string): Promise<number> => {
    const routes = JSON.parse((await tb.exec(tb.router.ns, ['ip', '-4', '-j', 'route', 'show', ip])).stdout || '[]') as Array<{ nexthops?: unknown[] }>;
    return routes[0] === undefined ? 0 : (routes[0].nexthops?.length ?? 1);
  };

  before(async function () {
    requireRoot(this);
    tb = await Testbed.create({ nodes: 3 });
    // Protocols peer1, peer3, peer5: IPv4 sessions (offered IPv6 too); peer2, peer4, peer6: IPv6 sessions.
    const neighbors = tb.nodes.flatMap((n) => [{ address: n.ipv4, asn: NODE_AS, families: ['ipv4', 'ipv6'] as Array<'ipv4' | 'ipv6'> }, { address: n.ipv6, asn: NODE_AS }]);
    bird = await tb.startBird(tb.router.ns, { asn: ROUTER_AS, routerId: tb.router.ipv4, kernelExport: true, neighbors });
    drivers = await Promise.all(tb.nodes.map((host) => NodeDriver.start(tb, host)));
    await Promise.all(drivers.map((d) => d.apply(clusterState(['203.0.113.10', '203.0.113.11', VIP6]))));
  });

  after(async () => {
    await tb?.destroy();
  });

  it('BIRD has a path from every node, with our community, and one ECMP route in the kernel', async () => {
    const hops = await waitFor('three paths in BIRD', async () => {
      const found = await birdNextHops('203.0.113.10/32');
      return found.length === 3 && found;
    });
    expect(hops).to.deep.equal(tb.nodes.map((n) => n.ipv4).sort());
    expect(await bird.birdc('show route for 203.0.113.10/32 all')).to.contain('(65001,100)');
    await waitFor('three next hops in the kernel', async () => (await fibNexthops('203.0.113.10')) === 3);
    expect((await drivers[0]!.waitEstablished('bird')).prefixesSent).to.equal(2);
  });

  it('disableMP: the IPv6 address goes over the IPv6 sessions only, with the nodes\' IPv6 next hops', async () => {
    const hops = await waitFor('three IPv6 paths in BIRD', async () => {
      const found = await birdNextHops(`${VIP6}/128`);
      return found.length === 3 && found;
    });
    expect(hops).to.deep.equal(tb.nodes.map((n) => n.ipv6).sort());
    const protocols = [...(await bird.birdc(`show route for ${VIP6}/128`)).matchAll(/\[(peer\d+)/g)].map((m) => m[1]).sort();
    expect(protocols).to.deep.equal(['peer2', 'peer4', 'peer6']);
    expect((await drivers[0]!.waitEstablished('bird6')).prefixesSent).to.equal(1);
  });

  it('a Service that goes is withdrawn from BIRD by every node', async () => {
    await Promise.all(drivers.map((d) => d.apply(clusterState(['203.0.113.10']))));
    await waitFor('203.0.113.11 withdrawn', async () => (await birdNextHops('203.0.113.11/32')).length === 0);
    expect(await birdNextHops('203.0.113.10/32')).to.have.length(3);
  });

  it('a speaker stopped for good sends a Cease: BIRD drops its path at once', async () => {
    const mark = drivers[2]!;
    mark.child.stdin?.write(`${JSON.stringify({ stop: true })}\n`);
    await new Promise((resolve) => mark.child.once('exit', resolve));
    const hops = await waitFor('two paths left', async () => {
      const found = await birdNextHops('203.0.113.10/32');
      return found.length === 2 && found;
    }, 5_000);
    expect(hops).not.to.include(tb.nodes[2]!.ipv4);
    for (const protocol of ['peer5', 'peer6']) expect(await bird.birdc(`show protocols all ${protocol}`), `BIRD saw our Cease on ${protocol}`).to.match(/Received: Administrative shutdown/);
  });
});

/**
 * BGP mode end to end: three node namespaces, each running a BgpAnnouncer (driver.ts) fed a
 * static cluster state, FRR (bgpd + zebra) as the router, a client behind it. One topology
 * for the file; the cases run in order, each starting from the state the previous one left.
 *
 * FRR peers: the three node addresses statically (`remote-as external`, graceful restart),
 * plus `bgp listen range` for 192.0.2.0/24 (a re-addressed node) and 198.51.100.0/24
 * (sessions from an address on the node's `lo`) — no per-node router configuration needed.
 */
import { expect } from 'chai';
import type { BgpAdvertisementView, BgpPeerView } from '../../../src/speaker/bgp/desired.ts';
import { run, Testbed, waitFor, type FrrPath, type FrrRouter } from '../../support/testbed.ts';
import type { ClusterStateJson } from './driver.ts';
import { NodeDriver } from './node-driver.ts';
import { requireRoot } from '../../support/preconditions.ts';

const ROUTER_AS = 64512;
const NODE_AS = 65001;
const VIP = '203.0.113.10';
const VIP6 = '2001:db8:ffff::10';
const VIP_LOCAL = '203.0.113.20';
const LO_SOURCE = '198.51.100.11';
const GS_DELAY_MS = 1500;

const routerPeer: BgpPeerView = { name: 'router', createdAt: '2026-01-01T00:00:00Z', myASN: NODE_AS, peerASN: ROUTER_AS, peerAddress: '192.0.2.1', enableGracefulRestart: true, holdTimeSec: 9 };
const advertisement: BgpAdvertisementView = { name: 'all', bindToInterface: 'lo' };

function clusterState(overrides: Partial<ClusterStateJson> = {}): ClusterStateJson {
  return {
    peers: [routerPeer],
    advertisements: [advertisement],
    pools: [{ name: 'pool' }],
    services: [{ key: 'default/web', ips: [VIP, VIP6], pool: 'pool', externalTrafficPolicy: 'Cluster', nodesWithReadyEndpoints: [] }],
    ...overrides,
  };
}

describe('speaker BGP mode: three nodes → FRR', function () {
  this.timeout(120_000);
  let tb: Testbed;
  let frr: FrrRouter;
  let drivers: NodeDriver[] = [];

  const vtyConfig = (...lines: string[]): Promise<unknown> => run(['vtysh', '--vty_socket', frr.dir, '-c', 'configure terminal', ...lines.flatMap((line) => ['-c', line])]);
  const nextHops = async (prefix: string): Promise<string[]> =>
    (await frr.paths(prefix)).flatMap((p: FrrPath) => (p.nexthops ?? []).map((n) => n.ip)).sort();
  const waitNextHops = (prefix: string, expected: string[], timeoutMs = 30_000): Promise<string[]> =>
    waitFor(`${prefix} next hops ${expected.join(',')}`, async () => {
      const hops = await nextHops(prefix);
      return JSON.stringify(hops) === JSON.stringify([...expected].sort()) && hops;
    }, timeoutMs);
  const applyAll = (state: ClusterStateJson): Promise<void[]> => Promise.all(drivers.map((d) => d.apply(state)));
  const nodeIps = (): string[] => tb.nodes.map((n) => n.ipv4);

  before(async function () {
    requireRoot(this);
    tb = await Testbed.create({ nodes: 3, client: true });
    frr = await tb.startFrr(tb.router.ns, { asn: ROUTER_AS, routerId: tb.router.ipv4, neighbors: tb.nodes.map((n) => ({ address: n.ipv4, asn: NODE_AS })) });
    await vtyConfig(
      `router bgp ${ROUTER_AS}`,
      ...tb.nodes.map((n) => `neighbor ${n.ipv4} remote-as external`),
      'neighbor nodes peer-group',
      'neighbor nodes remote-as external',
      'neighbor loopbacks peer-group',
      'neighbor loopbacks remote-as external',
      'neighbor loopbacks ebgp-multihop 2',
      'bgp listen range 192.0.2.0/24 peer-group nodes',
      'bgp listen range 198.51.100.0/24 peer-group loopbacks',
      'address-family ipv4 unicast',
      'neighbor nodes activate',
      'neighbor loopbacks activate',
      'exit-address-family',
      'address-family ipv6 unicast',
      ...tb.nodes.map((n) => `neighbor ${n.ipv4} activate`),
    );
    // The router forwards client traffic back out of the interface it came in on: no redirects.
    await tb.exec(tb.router.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.send_redirects=0', `net.ipv4.conf.${tb.iface}.send_redirects=0`]);
    await tb.exec(tb.client!.ns, ['ip', 'route', 'add', '203.0.113.0/24', 'via', tb.router.ipv4]);
    drivers = await Promise.all(tb.nodes.map((host) => NodeDriver.start(tb, host, ['--gs-delay-ms', String(GS_DELAY_MS)])));
    await applyAll(clusterState());
  });

  after(async () => {
    await tb?.destroy();
  });

  it('a dual-stack Service: each IP is a route with three ECMP next hops at FRR, in its RIB and the kernel FIB (IPv6 over the IPv4 sessions)', async () => {
    await waitNextHops(`${VIP}/32`, nodeIps());
    await waitFor('three FIB next hops', async () => (await frr.fibNexthops(VIP)) === 3);
    await waitNextHops(`${VIP6}/128`, tb.nodes.map((n) => n.ipv6));
    await waitFor('three IPv6 FIB next hops', async () => (await frr.fibNexthops(VIP6)) === 3);
    const status = await drivers[0]!.waitEstablished('router');
    expect(status).to.include({ node: 'node1', prefixesSent: 2 });
    expect(await drivers[0]!.announced('router')).to.have.members([`${VIP}/32`, `${VIP6}/128`]);
  });

  it('each node holds the Service IP on lo while it announces it (bindToInterface)', async () => {
    for (const host of tb.nodes) {
      const out = (await tb.exec(host.ns, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'lo'])).stdout;
      expect(out).to.contain(`${VIP}/32`);
    }
  });

  it('bindToInterface naming another interface: the IPs move there from lo, and back', async () => {
    const node1 = tb.nodes[0]!;
    const addressesOn = async (iface: string): Promise<string> => (await tb.exec(node1.ns, ['ip', '-o', 'addr', 'show', 'dev', iface])).stdout;
    // An interface the admin made (a missing one is created as a dummy, a type this test kernel lacks).
    await tb.exec(node1.ns, ['ip', 'link', 'add', 'vips0', 'type', 'bridge']);
    await drivers[0]!.apply(clusterState({ advertisements: [{ ...advertisement, bindToInterface: 'vips0' }] }));
    expect(await addressesOn('vips0')).to.contain(`${VIP}/32`).and.contain(`${VIP6}/128`);
    expect(await addressesOn('lo')).not.to.contain(`${VIP}/32`);
    await drivers[0]!.apply(clusterState());
    expect(await addressesOn('lo')).to.contain(`${VIP}/32`);
    expect(await addressesOn('vips0')).not.to.contain(`${VIP}/32`);
  });

  it('externalTrafficPolicy Local: only nodes with a ready endpoint are next hops, and they follow the endpoints', async () => {
    const local = (nodes: string[]): ClusterStateJson =>
      clusterState({ services: [...clusterState().services, { key: 'default/local', ips: [VIP_LOCAL], pool: 'pool', externalTrafficPolicy: 'Local', nodesWithReadyEndpoints: nodes }] });
    await applyAll(local(['node2']));
    await waitNextHops(`${VIP_LOCAL}/32`, [tb.nodes[1]!.ipv4]);
    await applyAll(local(['node1', 'node3']));
    await waitNextHops(`${VIP_LOCAL}/32`, [tb.nodes[0]!.ipv4, tb.nodes[2]!.ipv4]);
    await applyAll(local([]));
    await waitFor('no path for the Local Service without endpoints', async () => (await frr.paths(`${VIP_LOCAL}/32`)).length === 0);
    const hosted = (await tb.exec(tb.nodes[0]!.ns, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'lo'])).stdout;
    expect(hosted, 'a node that stopped announcing the IP no longer holds it').not.to.contain(`${VIP_LOCAL}/32`);
    await applyAll(clusterState());
  });

  it('node selectors on a peer: a node that is no longer selected closes its session and its next hop goes', async () => {
    drivers[2]!.node = { ...drivers[2]!.node, labels: { ...drivers[2]!.node.labels, rack: 'b' } };
    const selective = clusterState({ peers: [{ ...routerPeer, nodeSelectors: [{ matchExpressions: [{ key: 'rack', operator: 'NotIn', values: ['b'] }] }] }] });
    await applyAll(selective);
    await waitNextHops(`${VIP}/32`, [tb.nodes[0]!.ipv4, tb.nodes[1]!.ipv4]);
    expect(await drivers[2]!.status()).to.deep.equal([]);
    await applyAll(clusterState());
    await waitNextHops(`${VIP}/32`, nodeIps());
  });

  it('two BGPPeers on one peerAddress with disjoint node selectors: each node uses its own (seen in the AS paths)', async () => {
    const rackA: BgpPeerView = { ...routerPeer, name: 'router-rack-a', nodeSelectors: [{ matchExpressions: [{ key: 'rack', operator: 'NotIn', values: ['b'] }] }] };
    const rackB: BgpPeerView = { ...routerPeer, name: 'router-rack-b', myASN: 65003, nodeSelectors: [{ matchLabels: { rack: 'b' } }] };
    await applyAll(clusterState({ peers: [rackA, rackB] }));
    await waitFor('AS paths from both peers', async () => JSON.stringify((await frr.paths(`${VIP}/32`)).map((p) => p.aspath?.string).sort()) === JSON.stringify(['65001', '65001', '65003']));
    expect((await drivers[2]!.waitEstablished('router-rack-b')).prefixesSent).to.equal(2);
    expect((await drivers[0]!.waitEstablished('router-rack-a')).prefixesSent).to.equal(2);
    await applyAll(clusterState());
    await waitFor('AS paths back to one peer', async () => (await frr.paths(`${VIP}/32`)).every((p) => p.aspath?.string === '65001'));
  });

  it('sourceAddress: waits with an error while the address is not on the node, then binds to it on lo; other sessions untouched', async () => {
    const loPeer: BgpPeerView = { ...routerPeer, name: 'router-lo', createdAt: '2026-01-02T00:00:00Z', sourceAddress: LO_SOURCE, nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'node1' } }] };
    await tb.exec(tb.router.ns, ['ip', 'route', 'add', `${LO_SOURCE}/32`, 'via', tb.nodes[0]!.ipv4]);
    const before = await drivers[0]!.waitEstablished('router');
    await drivers[0]!.apply(clusterState({ peers: [routerPeer, loPeer] }));
    const waiting = await waitFor('sourceAddress error', async () => {
      const status = await drivers[0]!.peer('router-lo');
      return status?.lastError !== undefined && status;
    });
    expect(waiting.lastError).to.equal(`sourceAddress ${LO_SOURCE} is not on node node1`);
    expect(waiting.state).to.equal('Idle');
    await tb.exec(tb.nodes[0]!.ns, ['ip', 'addr', 'add', `${LO_SOURCE}/32`, 'dev', 'lo']);
    const up = await drivers[0]!.waitEstablished('router-lo');
    expect(up.lastError).to.equal(undefined);
    await waitFor('FRR has the session from the lo address', async () => (await frr.summary())[LO_SOURCE]?.ipv4?.state === 'Established');
    const after = await drivers[0]!.peer('router');
    expect(after?.since, 'the other session of the node was not restarted').to.equal(before.since);
    await drivers[0]!.apply(clusterState());
    await waitFor('lo session gone at FRR', async () => (await frr.summary())[LO_SOURCE]?.ipv4?.state !== 'Established');
  });

  it('passive peer on a fixed endpoint, with TCP-MD5: FRR dials a VIP held by one node; when the VIP moves, the next node takes the session', async () => {
    const endpoint = '192.0.2.100';
    const [node1, node2] = [tb.nodes[0]!, tb.nodes[1]!];
    const endpointPeer: BgpPeerView = { ...routerPeer, name: 'router-endpoint', createdAt: '2026-01-03T00:00:00Z', passive: true, sourceAddress: endpoint, password: 'anchorlb-md5' };
    await vtyConfig(`router bgp ${ROUTER_AS}`, `neighbor ${endpoint} remote-as external`, `neighbor ${endpoint} password anchorlb-md5`, `neighbor ${endpoint} timers connect 1`, 'address-family ipv4 unicast', `neighbor ${endpoint} activate`);
    await applyAll(clusterState({ peers: [routerPeer, endpointPeer] }));
    for (const driver of drivers) {
      const waiting = await waitFor(`${driver.node.name} waits for the endpoint`, async () => (await driver.peer('router-endpoint'))?.lastError);
      expect(waiting).to.equal(`sourceAddress ${endpoint} is not on node ${driver.node.name}`);
    }
    const sessionAtFrr = async (): Promise<boolean> => (await frr.summary())[endpoint]?.ipv4?.state === 'Established';
    // What an L2Advertisement with bindToInterface: lo does on the node it elects.
    await tb.exec(node1.ns, ['ip', 'addr', 'add', `${endpoint}/32`, 'dev', 'lo']);
    await drivers[0]!.waitEstablished('router-endpoint');
    await waitFor('FRR peers with the endpoint on node1', sessionAtFrr);
    expect((await frr.neighbor(endpoint)).hostname).to.equal('node1');

    await tb.exec(node1.ns, ['ip', 'addr', 'del', `${endpoint}/32`, 'dev', 'lo']);
    await tb.exec(node2.ns, ['ip', 'addr', 'add', `${endpoint}/32`, 'dev', 'lo']);
    await tb.exec(node2.ns, ['arping', '-q', '-U', '-c', '1', '-I', tb.iface, endpoint]);
    await drivers[1]!.waitEstablished('router-endpoint');
    await waitFor('FRR peers with the endpoint on node2', async () => (await sessionAtFrr()) && (await frr.neighbor(endpoint)).hostname === 'node2');
    const left = await drivers[0]!.peer('router-endpoint');
    expect(left).to.include({ state: 'Idle', lastError: `sourceAddress ${endpoint} is not on node node1` });

    await tb.exec(node2.ns, ['ip', 'addr', 'del', `${endpoint}/32`, 'dev', 'lo']);
    await vtyConfig(`router bgp ${ROUTER_AS}`, `no neighbor ${endpoint}`);
    await applyAll(clusterState());
    await waitNextHops(`${VIP}/32`, nodeIps());
  });

  it('cordon (draining): routes are re-sent with GRACEFUL_SHUTDOWN, seen at FRR, then withdrawn', async () => {
    const node3 = drivers[2]!;
    node3.node = { ...node3.node, draining: true };
    await node3.apply(clusterState());
    const node3Ip = tb.nodes[2]!.ipv4;
    const fromNode3 = async (): Promise<FrrPath | undefined> => (await frr.paths(`${VIP}/32`)).find((p) => p.nexthops?.some((n) => n.ip === node3Ip));
    const marked = await waitFor('graceful-shutdown community from node3', async () => {
      const path = await fromNode3();
      return path?.community?.string.includes('graceful-shutdown') === true && path;
    }, GS_DELAY_MS + 5_000, 50);
    expect(marked.community?.string).to.equal('graceful-shutdown');
    await waitFor('node3 path withdrawn after the delay', async () => (await fromNode3()) === undefined);
    expect(await node3.announced('router'), 'what node3 reports as announced (VIPStatus)').to.deep.equal([]);
    await waitNextHops(`${VIP}/32`, [tb.nodes[0]!.ipv4, tb.nodes[1]!.ipv4]);
    node3.node = { ...node3.node, draining: false };
    await node3.apply(clusterState());
    await waitNextHops(`${VIP}/32`, nodeIps());
  });

  it('rolling graceful restart (SIGTERM) of every speaker while a client streams through the router: zero lost packets', async () => {
    const ping = await tb.spawn(tb.client!.ns, ['ping', '-n', '-i', '0.01', VIP], { pipe: true });
    let output = '';
    ping.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const replies = (): number => output.match(/icmp_seq=/g)?.length ?? 0;
    // The stream runs before the first restart and goes on after the last one.
    await waitFor('stream flowing', () => replies() >= 20);
    for (const [index, host] of tb.nodes.entries()) {
      await drivers[index]!.terminate();
      await waitFor(`FRR keeps ${host.ipv4}'s route as stale`, async () => (await frr.paths(`${VIP}/32`)).some((p) => p.stale === true && p.nexthops?.some((n) => n.ip === host.ipv4)), 10_000, 50);
      // As the speaker process does: no memory of the last run, so no Restart State bit; FRR keeps the stale routes anyway (F bit) until End-of-RIB.
      const restarted = await NodeDriver.start(tb, host, ['--gs-delay-ms', String(GS_DELAY_MS)]);
      drivers[index] = restarted;
      await restarted.apply(clusterState());
      await restarted.waitEstablished('router');
      await waitFor(`${host.ipv4}'s route fresh again`, async () => {
        const paths = await frr.paths(`${VIP}/32`);
        return paths.length === 3 && paths.every((p) => p.stale !== true);
      });
    }
    const afterRestarts = replies();
    await waitFor('stream still flowing', () => replies() >= afterRestarts + 20);
    await tb.kill(ping, 'SIGINT');
    const transmitted = Number(/(\d+) packets transmitted/.exec(output)?.[1]);
    const received = Number(/(\d+) received/.exec(output)?.[1]);
    expect(received, `ping summary: ${output.split('\n').slice(-4).join('\n')}`).to.equal(transmitted);
    await waitNextHops(`${VIP}/32`, nodeIps());
  });

  it('a re-addressed node: its session comes back from the new address (FRR listen range) and so does its next hop', async () => {
    const node2 = tb.nodes[1]!;
    const newAddress = '192.0.2.22';
    // Old address first: removing a primary address also removes the secondaries of its subnet.
    await tb.exec(node2.ns, ['ip', 'addr', 'del', `${node2.ipv4}/24`, 'dev', tb.iface]);
    await tb.exec(node2.ns, ['ip', 'addr', 'add', `${newAddress}/24`, 'dev', tb.iface]);
    await drivers[1]!.apply(clusterState(), [newAddress, node2.ipv6]);
    await drivers[1]!.waitEstablished('router');
    await waitFor('next hop from the new address', async () => (await nextHops(`${VIP}/32`)).includes(newAddress));
    await waitFor('FRR has the dynamic neighbor', async () => (await frr.summary())[newAddress]?.ipv4?.state === 'Established');
  });

  it('a re-addressed node nobody told: the speaker sees its address go and comes back from the new one', async () => {
    const node3 = tb.nodes[2]!;
    const newAddress = '192.0.2.23';
    await tb.exec(node3.ns, ['ip', 'addr', 'del', `${node3.ipv4}/24`, 'dev', tb.iface]);
    await tb.exec(node3.ns, ['ip', 'addr', 'add', `${newAddress}/24`, 'dev', tb.iface]);
    await waitFor('next hop from node3\'s new address', async () => (await nextHops(`${VIP}/32`)).includes(newAddress));
    expect((await frr.summary())[newAddress]?.ipv4?.state).to.equal('Established');
    // A new session, not the old one recovering after its hold timer expired (that would be its last error).
    expect((await drivers[2]!.peer('router'))?.lastError ?? '').not.to.contain('hold timer');
  });
});

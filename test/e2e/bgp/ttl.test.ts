/**
 * The TTL our sessions send with, seen from a router between us and FRR:
 *
 *   node1 AS 65001 (eBGP, single hop) ─┐                    ┌─ FRR AS 64512, peering address
 *   node2 AS 64512 (iBGP)             ─┼─ client (forwards) ─┘   198.51.100.1 on its loopback
 *   node3 AS 65003 (speaker BGPPeer:  ─┘
 *     ebgpMultiHop, dynamicASN external, holdTime 6 s, keepaliveTime 1 s)
 *
 * The nodes reach 198.51.100.1 only through the client namespace, which forwards (one hop,
 * no ICMP redirects). eBGP without ebgpMultiHop sends with TTL 1: its SYNs expire at the
 * client, as they must (RFC 4271 practice, FRR's default). iBGP sends with TTL 255 and
 * crosses it, as does eBGP with ebgpMultiHop (TTL 255), configured the way the speaker is: a
 * BGPPeer view through BgpAnnouncer (test/e2e/speaker-bgp/driver.ts).
 */
import { expect } from 'chai';
import { Testbed, waitFor, type FrrRouter, type Host } from '../../support/testbed.ts';
import type { BgpPeerView } from '../../../src/speaker/bgp/desired.ts';
import { NodeDriver } from '../speaker-bgp/node-driver.ts';
import { Announcer } from './announcer.ts';
import { requireRoot } from '../../support/preconditions.ts';

const ROUTER_AS = 64512;
const PEERING = '198.51.100.1';

async function timeExceededSent(tb: Testbed, ns: string): Promise<number> {
  // /proc/net/snmp is per namespace: a header line and a value line per protocol.
  const lines = (await tb.exec(ns, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('OutTimeExcds')] ?? NaN);
}

describe('BGP interop: TTL 1 for single-hop eBGP, 255 for iBGP, across a forwarding hop to FRR', function () {
  this.timeout(90_000);
  let tb: Testbed;
  let frr: FrrRouter;
  let ebgp: Announcer;
  let ibgp: Announcer;
  let multihop: NodeDriver;
  const multihopPeer: BgpPeerView = { name: 'router', createdAt: '2026-01-01T00:00:00Z', myASN: 65003, dynamicASN: 'external', peerAddress: PEERING, ebgpMultiHop: true, holdTimeSec: 6, keepaliveTimeSec: 1 };

  before(async function () {
    requireRoot(this);
    tb = await Testbed.create({ nodes: 3, client: true });
    const client = tb.client as Host;
    const [n1, n2, n3] = tb.nodes as [Host, Host, Host];
    await tb.exec(tb.router.ns, ['ip', 'addr', 'add', `${PEERING}/32`, 'dev', 'lo']);
    await tb.exec(client.ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', `net.ipv4.conf.${tb.iface}.send_redirects=0`]);
    await tb.exec(client.ns, ['ip', 'route', 'add', `${PEERING}/32`, 'via', tb.router.ipv4]);
    for (const node of [n1, n2, n3]) await tb.exec(node.ns, ['ip', 'route', 'add', `${PEERING}/32`, 'via', client.ipv4]);
    frr = await tb.startFrr(tb.router.ns, {
      asn: ROUTER_AS,
      routerId: tb.router.ipv4,
      zebra: false,
      neighbors: [
        { address: n1.ipv4, asn: 65001, passive: true },
        { address: n2.ipv4, asn: ROUTER_AS, passive: true },
        { address: n3.ipv4, asn: 65003, passive: true },
      ],
    });
    const start = (node: Host, localAs: number): Promise<Announcer> =>
      Announcer.start(tb, node, ['--peer', PEERING, '--peer-as', String(ROUTER_AS), '--local-as', String(localAs), '--prefix', '203.0.113.10/32']);
    [ebgp, ibgp, multihop] = await Promise.all([start(n1, 65001), start(n2, ROUTER_AS), NodeDriver.start(tb, n3)]);
    await multihop.apply({ peers: [multihopPeer], advertisements: [{ name: 'all' }], pools: [{ name: 'pool' }], services: [{ key: 'default/web', ips: ['203.0.113.30'], pool: 'pool', externalTrafficPolicy: 'Cluster', nodesWithReadyEndpoints: [] }] });
  });

  after(async () => {
    await tb?.destroy();
  });

  it('iBGP (TTL 255) crosses the forwarding hop and comes up', async () => {
    await ibgp.established();
    const status = await ibgp.status();
    expect(status).to.include({ state: 'Established', localAddress: tb.nodes[1]!.ipv4, remoteAsn: ROUTER_AS });
    await waitFor('FRR has the iBGP session up', async () => (await frr.neighbor(tb.nodes[1]!.ipv4))['bgpState'] === 'Established');
  });

  it('a BGPPeer with ebgpMultiHop (TTL 255) and dynamicASN external crosses it too, with its hold time', async () => {
    await multihop.waitEstablished('router');
    const neighbor = await waitFor('FRR has the multi-hop eBGP session up', async () => {
      const n = await frr.neighbor(tb.nodes[2]!.ipv4);
      return n['bgpState'] === 'Established' && n;
    });
    expect(neighbor['remoteAs']).to.equal(65003);
    // The smaller of FRR's 9 s and our 6 s: our holdTime reached the OPEN (keepalive 1 s keeps it up).
    expect(neighbor['bgpTimerHoldTimeMsecs']).to.equal(6000);
    const paths = await waitFor('FRR has the route from node3', async () => (await frr.paths('203.0.113.30/32')).length > 0 && frr.paths('203.0.113.30/32'));
    expect(paths[0]?.aspath?.string).to.equal('65003');
  });

  it('single-hop eBGP (TTL 1) does not: its SYNs expire at the forwarding hop, and the failure is reported', async () => {
    const failure = await ebgp.waitForEvent('eBGP connect failure', (e) => e.event === 'failure');
    // Linux ends the attempt on the ICMP Time Exceeded the forwarder sends back.
    expect(String(failure.reason)).to.contain(`connect to ${PEERING}:179: connect EHOSTUNREACH`);
    // The forwarder dropped them for TTL: ICMP Time Exceeded went back (nothing else sends those here).
    expect(await timeExceededSent(tb, tb.client!.ns)).to.be.above(0);
    expect((await ebgp.status()).state).to.not.equal('Established');
    expect((await frr.neighbor(tb.nodes[0]!.ipv4))['bgpState']).to.not.equal('Established');
  });
});

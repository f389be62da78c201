/**
 * The TTL our sessions send with, seen from a router between us and FRR:
 *
 *   node1 AS 65001 (eBGP, single hop) ─┐                    ┌─ FRR AS 64512, peering address
 *   node2 AS 64512 (iBGP)             ─┴─ client (forwards) ─┘   198.51.100.1 on its loopback
 *
 * The nodes reach 198.51.100.1 only through the client namespace, which forwards (one hop,
 * no ICMP redirects). eBGP without ebgpMultiHop sends with TTL 1: its SYNs expire at the
 * client, as they must (RFC 4271 practice, FRR's default). iBGP sends with TTL 255 and
 * crosses it.
 */
import { expect } from 'chai';
import { Testbed, waitFor, type FrrRouter, type Host } from '../../support/testbed.ts';
import { Announcer } from './announcer.ts';

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

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    tb = await Testbed.create({ nodes: 2, client: true });
    const client = tb.client as Host;
    const [n1, n2] = tb.nodes as [Host, Host];
    await tb.exec(tb.router.ns, ['ip', 'addr', 'add', `${PEERING}/32`, 'dev', 'lo']);
    await tb.exec(client.ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', `net.ipv4.conf.${tb.iface}.send_redirects=0`]);
    await tb.exec(client.ns, ['ip', 'route', 'add', `${PEERING}/32`, 'via', tb.router.ipv4]);
    for (const node of [n1, n2]) await tb.exec(node.ns, ['ip', 'route', 'add', `${PEERING}/32`, 'via', client.ipv4]);
    frr = await tb.startFrr(tb.router.ns, {
      asn: ROUTER_AS,
      routerId: tb.router.ipv4,
      zebra: false,
      neighbors: [
        { address: n1.ipv4, asn: 65001, passive: true },
        { address: n2.ipv4, asn: ROUTER_AS, passive: true },
      ],
    });
    const start = (node: Host, localAs: number): Promise<Announcer> =>
      Announcer.start(tb, node, ['--peer', PEERING, '--peer-as', String(ROUTER_AS), '--local-as', String(localAs), '--prefix', '203.0.113.10/32']);
    [ebgp, ibgp] = await Promise.all([start(n1, 65001), start(n2, ROUTER_AS)]);
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

/**
 * The real `anchorlb speaker --modes bgp` processes, one per node namespace, against the
 * project's API server (as test/e2e/speaker/l2-process.test.ts does for Layer 2), peering with
 * FRR under graceful restart; a client reaches the Service IPs through the router.
 *
 * Each node has its own Service with `externalTrafficPolicy: Local` and its only ready endpoint
 * on that node, so only that node announces the Service's IP: while a node's speaker restarts,
 * the traffic to its IP has no other path. A rolling restart by SIGTERM (the product's own path:
 * leave, hand-over wait, VIPStatus delete, BGP stop without a Cease; then a new process, which
 * finds the IP it left on `lo`) loses no packet only if FRR keeps the route as stale until the
 * restarted speaker's End-of-RIB. A speaker that sent a Cease, or removed the IP, loses packets.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { requireRoot } from '../../support/preconditions.ts';
import { SPEAKER_NAMESPACE as NS, withSpeakerNodes } from '../../support/speaker-nodes.ts';
import { promtoolCheckMetrics, requirePromtool, sampleOf } from '../../support/promtool.ts';
import { waitFor, type FrrRouter, type Testbed } from '../../support/testbed.ts';

const APP_NS = 'shop';
const ROUTER_AS = 64512;
const NODE_AS = 65001;
const NODE_NAMES = ['node1', 'node2', 'node3'];
/** The IP of node N's own Service (Local, endpoint on node N only). */
const vipOf = (node: string): string => `203.0.113.${10 + Number(node.replace('node', ''))}`;

describe('anchorlb speaker processes, BGP: a rolling restart under graceful restart loses nothing', function () {
  this.timeout(600_000);
  const prefix = `sb${randomBytes(3).toString('hex')}`;
  const suite = withSpeakerNodes('anchorlb-bgp-process-');
  const nodes = () => suite.nodes();
  const bed = (): Testbed => nodes().testbed;
  const kubectl = (args: string[], stdin?: string): Promise<string> => nodes().kubectl(args, stdin);
  let frr: FrrRouter;
  const nodeIp = (name: string): string => bed().nodes[NODE_NAMES.indexOf(name)]?.ipv4 ?? '';
  const paths = (ip: string) => frr.paths(`${ip}/32`);

  before(async function () {
    requireRoot(this);
    this.timeout(300_000);
    const testbed = (await suite.create({ nodeNames: NODE_NAMES, appNamespaces: [APP_NS], prefix, client: true })).testbed;
    frr = await testbed.startFrr(testbed.router.ns, { asn: ROUTER_AS, routerId: testbed.router.ipv4, neighbors: testbed.nodes.map((node) => ({ address: node.ipv4, asn: NODE_AS })) });
    // The router sends client traffic back out of the interface it came in on: no redirects, so it stays on the routed path.
    await testbed.exec(testbed.router.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.send_redirects=0', `net.ipv4.conf.${testbed.iface}.send_redirects=0`]);
    await testbed.exec(testbed.client!.ns, ['ip', 'route', 'add', '203.0.113.0/24', 'via', testbed.router.ipv4]);
    await kubectl(['apply', '-f', '-'], `apiVersion: anchorlb.io/v1beta1
kind: IPAddressPool
metadata: { name: shop, namespace: ${NS} }
spec:
  addresses: ["203.0.113.10-203.0.113.20"]
---
apiVersion: anchorlb.io/v1beta1
kind: BGPPeer
metadata: { name: router, namespace: ${NS} }
spec:
  myASN: ${NODE_AS}
  peerASN: ${ROUTER_AS}
  peerAddress: ${testbed.router.ipv4}
  holdTime: 9s
  keepaliveTime: 3s
  enableGracefulRestart: true
---
apiVersion: anchorlb.io/v1beta1
kind: BGPAdvertisement
metadata: { name: shop, namespace: ${NS} }
spec:
  ipAddressPools: [shop]
  peers: [router]
  bindToInterface: lo
`);
    for (const [index, name] of NODE_NAMES.entries()) {
      const service = `web-${name}`;
      await kubectl(['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: { name: ${service}, namespace: ${APP_NS} }
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: { app: ${service} }
  ports: [{ name: http, port: 80, protocol: TCP }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${service}-1
  namespace: ${APP_NS}
  labels: { kubernetes.io/service-name: ${service} }
addressType: IPv4
ports: [{ name: http, port: 80, protocol: TCP }]
endpoints:
  - addresses: ["${testbed.nodes[index]?.ipv4}"]
    conditions: { ready: true, serving: true, terminating: false }
    nodeName: ${name}
`);
      // The controller's part, done by hand: this test is about the speakers.
      await kubectl(['patch', 'service', service, '-n', APP_NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: vipOf(name) }] } } })]);
    }
    await Promise.all(NODE_NAMES.map((name) => nodes().startSpeaker(name, { modes: 'bgp' })));
  });

  it('each node\'s Service IP reaches FRR from that node only, and the client is answered through the router', async () => {
    for (const name of NODE_NAMES) {
      const hops = await waitFor(`${vipOf(name)} from ${name} only`, async () => {
        const found = (await paths(vipOf(name))).flatMap((path) => (path.nexthops ?? []).map((hop) => hop.ip));
        return found.length > 0 && found;
      }, 60_000, 200);
      expect(hops, `next hops of ${vipOf(name)}`).to.deep.equal([nodeIp(name)]);
    }
    const ping = await bed().exec(bed().client!.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', vipOf('node1')], { allowFailure: true });
    expect(ping.stdout).to.include('3 received');
  });

  it('kubectl get bgppeer shows every node\'s session Established with the one prefix it sends (the speakers\' own status writes)', async () => {
    type PeerStatus = { status?: { nodes?: Array<{ node: string; state: string; prefixesSent: number }>; establishedNodes?: number } };
    const seen = await waitFor('three Established entries on BGPPeer router', async () => {
      const peer = JSON.parse(await kubectl(['get', 'bgppeer', 'router', '-n', NS, '-o', 'json'])) as PeerStatus;
      const nodes = (peer.status?.nodes ?? []).map((n) => [n.node, n.state, n.prefixesSent]);
      return nodes.length === 3 && nodes.every(([, state, sent]) => state === 'Established' && sent === 1) && { nodes, established: peer.status?.establishedNodes };
    }, 60_000, 200);
    expect(seen).to.deep.equal({ nodes: NODE_NAMES.map((name) => [name, 'Established', 1]), established: 3 });
  });

  it("each speaker's /metrics: the session with the router up, one prefix announced, its own IP announced by bgp (intent and really); promtool check metrics passes", async function () {
    requirePromtool(this);
    for (const name of NODE_NAMES) {
      const text = await waitFor(`${name}'s session up in its metrics`, async () => {
        const body = await nodes().metricsOf(name);
        return sampleOf(body, 'anchorlb_bgp_session_up', { peer: 'router' }) === 1 && body;
      }, 30_000, 200);
      const own = { service: `${APP_NS}/web-${name}`, protocol: 'bgp', node: name, ip: vipOf(name) };
      expect(sampleOf(text, 'anchorlb_bgp_announced_prefixes', { peer: 'router' }), name).to.equal(1);
      expect(sampleOf(text, 'anchorlb_bgp_updates_total', { peer: 'router' }), name).to.be.at.least(1);
      expect(sampleOf(text, 'anchorlb_speaker_announced', own), name).to.equal(1);
      expect(sampleOf(text, 'anchorlb_speaker_announced_actual', own), name).to.equal(1);
      expect(sampleOf(text, 'anchorlb_speaker_announce_drift'), name).to.equal(undefined);
      await promtoolCheckMetrics(text);
    }
  });

  it('rolling restart (SIGTERM, then a new process) of every speaker while the client streams to the restarted node\'s own IP: zero lost', async () => {
    for (const name of NODE_NAMES) {
      const vip = vipOf(name);
      const ping = await bed().spawn(bed().client!.ns, ['ping', '-n', '-i', '0.01', vip], { pipe: true });
      let output = '';
      ping.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const replies = (): number => output.match(/icmp_seq=/g)?.length ?? 0;
      try {
        await waitFor(`the stream to ${vip} flowing`, () => replies() >= 20, 30_000, 20);
        await nodes().stopSpeaker(name, 'SIGTERM');
        expect(nodes().speakers.get(name)?.exitCode, `the speaker on ${name} exits cleanly`).to.equal(0);
        // Closed without a Cease: FRR keeps the route, as stale, pointing at the node that still holds the IP.
        const stale = await waitFor(`FRR keeps ${vip} as stale`, async () => {
          const now = await paths(vip);
          return now.some((path) => path.stale === true) && now;
        }, 20_000, 50);
        expect(stale.map((path) => [path.stale === true, (path.nexthops ?? []).map((hop) => hop.ip)]), `FRR's paths for ${vip} while ${name} restarts`).to.deep.equal([[true, [nodeIp(name)]]]);
        await nodes().startSpeaker(name, { modes: 'bgp' });
        await waitFor(`${vip} fresh again at FRR`, async () => {
          const now = await paths(vip);
          return now.length === 1 && now[0]?.stale !== true;
        }, 60_000, 100);
        const afterRestart = replies();
        await waitFor(`the stream to ${vip} still flowing`, () => replies() >= afterRestart + 20, 30_000, 20);
      } finally {
        await bed().kill(ping, 'SIGINT');
      }
      const transmitted = Number(/(\d+) packets transmitted/.exec(output)?.[1]);
      const received = Number(/(\d+) received/.exec(output)?.[1]);
      process.stdout.write(`      ${name} restarted: ${received} of ${transmitted} pings to ${vip} (every 10 ms) answered\n`);
      expect(transmitted, 'ping summary').to.be.above(40);
      expect(received, `pings to ${vip} while ${name} restarted: ${output.split('\n').slice(-4).join(' | ')}`).to.equal(transmitted);
    }
  });
});

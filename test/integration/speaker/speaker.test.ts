import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KubeRest } from '../../../src/kube/rest.ts';
import { createLogger } from '../../../src/common/log.ts';
import { Speaker, type BgpApplier, type L2Applier } from '../../../src/speaker/speaker.ts';
import type { L2Announcement } from '../../../src/speaker/l2-desired.ts';
import type { DesiredBgpState } from '../../../src/speaker/bgp/desired.ts';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';
import { waitFor } from '../../support/testbed.ts';

const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));
const NS = 'anchorlb-system';
const CRD = (plural: string) => `/apis/anchorlb.io/v1beta1/namespaces/${NS}/${plural}`;
const key = Buffer.from('speaker integration test key 123');

/** Records what the speaker asks for, standing in for the network side. */
class RecordingL2 implements L2Applier {
  current: ReadonlyMap<string, L2Announcement> = new Map();
  async apply(announcements: ReadonlyMap<string, L2Announcement>): Promise<void> {
    this.current = announcements;
  }
  async stop(): Promise<void> {
    this.current = new Map();
  }
}
class RecordingBgp implements BgpApplier {
  current: DesiredBgpState | undefined;
  graceful = false;
  async apply(desired: DesiredBgpState): Promise<void> {
    this.current = desired;
  }
  async gracefulStop(): Promise<void> {
    this.graceful = true;
  }
  prefixes(peer: string): string[] {
    return [...(this.current?.sessions.find((s) => s.peer === peer)?.prefixes.keys() ?? [])].sort();
  }
}

describe('speaker process against the local API server (network side recorded)', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer({ crdFiles });
  let rest: KubeRest;
  const nodes = ['node1', 'node2', 'node3'];
  const speakers = new Map<string, { speaker: Speaker; l2: RecordingL2; bgp: RecordingBgp }>();

  let departed = '';
  const owners = (ip: string) => [...speakers].filter(([, s]) => s.l2.current.has(ip)).map(([name]) => name);

  before(async () => {
    rest = new KubeRest(cluster.kubeConfig);
    for (const name of [NS, 'shop']) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    for (const [index, name] of nodes.entries()) {
      await rest.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, rack: index === 0 ? 'r1' : 'r2' } } });
      await rest.patch(`/api/v1/nodes/${name}/status`, {
        status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: `127.0.0.${11 + index}` }] },
      });
    }
    await rest.create(CRD('ipaddresspools'), { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'public' }, spec: { addresses: ['192.0.2.0/28'] } });
    await rest.create(CRD('l2advertisements'), { apiVersion: 'anchorlb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'l2' }, spec: { ipAddressPools: ['public'] } });
    await rest.create(CRD('bgppeers'), { apiVersion: 'anchorlb.io/v1beta1', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '192.0.2.254', holdTime: '9s', nodeSelectors: [{ matchLabels: { rack: 'r2' } }] } });
    await rest.create(CRD('bgpadvertisements'), { apiVersion: 'anchorlb.io/v1beta1', kind: 'BGPAdvertisement', metadata: { name: 'bgp' }, spec: { communities: ['65000:1'] } });
    await rest.create('/api/v1/namespaces/shop/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', annotations: { 'anchorlb.io/ip-allocated-from-pool': 'public' } },
      spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80, protocol: 'TCP' }] },
    });
    await rest.patch('/api/v1/namespaces/shop/services/web/status', { status: { loadBalancer: { ingress: [{ ip: '192.0.2.5' }] } } });

    for (const [index, name] of nodes.entries()) {
      const l2 = new RecordingL2();
      const bgp = new RecordingBgp();
      const speaker = new Speaker({
        kubeConfig: cluster.kubeConfig,
        nodeName: name,
        namespace: NS,
        logger: createLogger(`speaker-${name}`, 'silent'),
        liveness: { key, port: 17946, bindAddress: `127.0.0.${11 + index}`, intervalMs: 20, missedHeartbeats: 5, interfaces: ['eth0'] },
        l2,
        bgp,
        handOverMs: 50,
      });
      await speaker.start();
      speakers.set(name, { speaker, l2, bgp });
    }
  });

  after(async () => {
    for (const { speaker } of speakers.values()) await speaker.shutdown().catch(() => undefined);
  });

  it('all speakers see each other live and exactly one answers for the Service IP on L2', async () => {
    await waitFor('every speaker sees three live', () => [...speakers.values()].every((s) => s.speaker.liveness.membership.live().size === 3) || undefined);
    const owner = await waitFor('one L2 owner', () => (owners('192.0.2.5').length === 1 ? owners('192.0.2.5') : undefined));
    expect(speakers.get(owner[0]!)!.l2.current.get('192.0.2.5')!.services).to.deep.equal(['shop/web']);
  });

  it('opens the BGP session only on nodes the peer selects, carrying the Service route with its community', async () => {
    await waitFor('bgp desired computed', () => [...speakers.values()].every((s) => s.bgp.current) || undefined);
    expect(speakers.get('node1')!.bgp.current!.sessions).to.deep.equal([]);
    for (const name of ['node2', 'node3']) {
      expect(speakers.get(name)!.bgp.prefixes('tor')).to.deep.equal(['192.0.2.5/32']);
      expect(speakers.get(name)!.bgp.current!.sessions[0]!.config).to.deep.include({ peerAddress: '192.0.2.254', holdTimeSec: 9, myASN: 64512 });
      expect(speakers.get(name)!.bgp.current!.sessions[0]!.prefixes.get('192.0.2.5/32')!.communities).to.deep.equal([65000 * 65536 + 1]);
    }
  });

  it('follows endpoints for externalTrafficPolicy Local, on L2 and BGP', async () => {
    await rest.patch('/api/v1/namespaces/shop/services/web', { spec: { externalTrafficPolicy: 'Local' } });
    await rest.create('/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.5'], nodeName: 'node3', conditions: { ready: true } }, { addresses: ['10.0.0.6'], nodeName: 'node2', conditions: { ready: false } }],
      ports: [{ port: 8080, protocol: 'TCP' }],
    });
    await waitFor('node3 owns the IP', () => (owners('192.0.2.5').join() === 'node3' ? true : undefined));
    await waitFor('only node3 announces over BGP', () => (speakers.get('node2')!.bgp.prefixes('tor').length === 0 && speakers.get('node3')!.bgp.prefixes('tor').length === 1) || undefined);
  });

  it('moves the IP when its owner leaves, and the leaving speaker restarts BGP gracefully', async () => {
    await rest.patch('/api/v1/namespaces/shop/services/web', { spec: { externalTrafficPolicy: 'Cluster' } });
    const owner = (await waitFor('an owner', () => (owners('192.0.2.5').length === 1 ? owners('192.0.2.5') : undefined)))[0]!;
    const leaving = speakers.get(owner)!;
    await leaving.speaker.shutdown();
    speakers.delete(owner);
    expect(leaving.bgp.graceful).to.equal(true);
    const next = await waitFor('a successor', () => (owners('192.0.2.5').length === 1 ? owners('192.0.2.5') : undefined));
    expect(next[0]).to.not.equal(owner);
    departed = owner;
  });

  it('with failbackDelay, a restarted node takes its IP back only after the delay', async () => {
    await rest.patch(CRD('l2advertisements/l2'), { spec: { failover: { failbackDelay: '2s' } } });
    const holder = await waitFor('a holder', () => (owners('192.0.2.5').length === 1 ? owners('192.0.2.5')[0] : undefined));
    // Nodes started within a second of each other elect as if there were no delay: come back later.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const index = nodes.indexOf(departed);
    const l2 = new RecordingL2();
    const bgp = new RecordingBgp();
    const speaker = new Speaker({
      kubeConfig: cluster.kubeConfig,
      nodeName: departed,
      namespace: NS,
      logger: createLogger(`speaker-${departed}`, 'silent'),
      liveness: { key, port: 17946, bindAddress: `127.0.0.${11 + index}`, intervalMs: 20, missedHeartbeats: 5, interfaces: ['eth0'] },
      l2,
      bgp,
      handOverMs: 50,
    });
    const startedAt = Date.now();
    await speaker.start();
    speakers.set(departed, { speaker, l2, bgp });
    expect(owners('192.0.2.5')).to.deep.equal([holder]);
    await waitFor('the returning hash winner takes its IP back', () => (owners('192.0.2.5').join() === departed ? true : undefined), 10_000);
    expect(Date.now() - startedAt).to.be.at.least(2_000);
  });
});

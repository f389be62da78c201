import { expect } from 'chai';
import type { V1Service } from '@kubernetes/client-node';
import { announcedServices, localNodeView, passwordSecretNames, readyEndpointNodes, toBgpState, toL2State, type ClusterSnapshot } from '../../../src/speaker/cluster-state.ts';
import type { BGPPeer, L2Advertisement, L2Failover } from '../../../src/api/index.ts';

const empty = (): ClusterSnapshot => ({ services: [], endpointSlices: [], nodes: [], pools: [], l2Advertisements: [], bgpAdvertisements: [], bgpPeers: [], communities: [], bfdProfiles: [], secrets: [] });
const lb = (name: string, extra: Partial<V1Service['spec']> = {}, annotations: Record<string, string> = {}): V1Service => ({
  metadata: { name, namespace: 'shop', annotations },
  spec: { type: 'LoadBalancer', ...extra },
  status: { loadBalancer: { ingress: [{ ip: '192.0.2.5' }] } },
});
const peer = (spec: Partial<BGPPeer['spec']>): BGPPeer => ({ apiVersion: 'anchorlb.io/v1beta1', kind: 'BGPPeer', metadata: { name: 'tor', namespace: 'anchorlb-system', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '192.0.2.1', ...spec } });

describe('speaker/cluster-state: Kubernetes objects to views', () => {
  it('announces only our LoadBalancer Services with addresses, finding the pool by annotation or by range', () => {
    const snapshot = { ...empty(), pools: [{ apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'public' }, spec: { addresses: ['192.0.2.0/28'] } }] } as ClusterSnapshot;
    snapshot.services = [lb('annotated', {}, { 'anchorlb.io/ip-allocated-from-pool': 'other' }), lb('by-range'), lb('classy', { loadBalancerClass: 'x/y' }), { ...lb('cluster-ip'), spec: { type: 'ClusterIP' } }];
    expect(announcedServices(snapshot, undefined).map((s) => [s.key, s.pool])).to.deep.equal([
      ['shop/annotated', 'other'],
      ['shop/by-range', 'public'],
    ]);
    expect(announcedServices(snapshot, 'x/y').map((s) => s.key)).to.deep.equal(['shop/classy']);
  });

  it('counts endpoints as ready unless they say otherwise, per node', () => {
    const nodes = readyEndpointNodes([
      { metadata: { namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], nodeName: 'a' }, { addresses: ['10.0.0.2'], nodeName: 'b', conditions: { ready: false } }, { addresses: ['10.0.0.3'], nodeName: 'c', conditions: { ready: true } }] },
    ]);
    expect([...nodes.get('shop/web')!].sort()).to.deep.equal(['a', 'c']);
  });

  it('drains a cordoned or excluded node', () => {
    expect(localNodeView({ spec: { unschedulable: true } }, 'a').draining).to.equal(true);
    expect(localNodeView({ metadata: { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } } }, 'a').draining).to.equal(true);
    expect(localNodeView({}, 'a').draining).to.equal(false);
  });

  it('turns durations into seconds and reads the password from a basic-auth Secret', () => {
    const snapshot = { ...empty(), bgpPeers: [peer({ holdTime: '1m30s', keepaliveTime: '30s', passwordSecret: { name: 'tor-md5' } })], secrets: [{ metadata: { name: 'tor-md5', namespace: 'anchorlb-system' }, type: 'kubernetes.io/basic-auth', data: { password: Buffer.from('s3cret').toString('base64') } }] };
    const { state, problems } = toBgpState(snapshot, undefined);
    expect(problems).to.deep.equal([]);
    expect(state.peers[0]).to.deep.include({ holdTimeSec: 90, keepaliveTimeSec: 30, password: 's3cret', name: 'tor' });
  });

  it('never opens a session without the password it was asked for: a missing Secret drops the peer with a problem naming it', () => {
    const { state, problems } = toBgpState({ ...empty(), bgpPeers: [peer({ passwordSecret: { name: 'missing' } })] }, undefined);
    expect(state.peers).to.deep.equal([]);
    expect(problems).to.deep.equal([{ object: 'BGPPeer/tor', path: 'spec.passwordSecret', value: 'anchorlb-system/missing', message: 'Secret not found or has no "password" key' }]);
  });

  it('names the password Secrets the peers need in the speaker\'s namespace, once each, and none elsewhere', () => {
    const peers = [
      peer({ passwordSecret: { name: 'tor-md5' } }),
      peer({ passwordSecret: { name: 'spine-md5', namespace: 'anchorlb-system' } }),
      peer({ passwordSecret: { name: 'tor-md5' } }),
      peer({ passwordSecret: { name: 'other-team', namespace: 'shop' } }),
      peer({ password: 'inline' }),
    ];
    expect(passwordSecretNames(peers, 'anchorlb-system')).to.deep.equal(['spine-md5', 'tor-md5']);
    expect(passwordSecretNames(peers, 'shop')).to.deep.equal(['other-team']);
  });

  it('resolves spec.bfdProfile to its BFDProfile with MetalLB\'s defaults; a missing one keeps the name and no settings', () => {
    const profile = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'anchorlb.io/v1beta1' as const, kind: 'BFDProfile' as const, metadata: { name }, spec });
    const { state } = toBgpState({ ...empty(), bgpPeers: [peer({ bfdProfile: 'fast' })], bfdProfiles: [profile('fast', { transmitInterval: 50, passiveMode: true })] }, undefined);
    expect(state.peers[0]).to.deep.include({ bfdProfile: 'fast', bfd: { receiveIntervalMs: 300, transmitIntervalMs: 50, detectMultiplier: 3, passive: true, minimumTtl: 254, echoMode: false } });
    const missing = toBgpState({ ...empty(), bgpPeers: [peer({ bfdProfile: 'gone' })] }, undefined).state.peers[0];
    expect(missing).to.include({ bfdProfile: 'gone' });
    expect(missing).to.not.have.property('bfd');
  });

  it('reports a bad duration with its field and value, and keeps the other peers', () => {
    const good = { ...peer({}), metadata: { ...peer({}).metadata, name: 'good' } };
    const { state, problems } = toBgpState({ ...empty(), bgpPeers: [peer({ holdTime: 'soon' }), good] }, undefined);
    expect(state.peers.map((p) => p.name)).to.deep.equal(['good']);
    expect(problems[0]).to.deep.include({ object: 'BGPPeer/tor', path: 'spec.holdTime', value: 'soon' });
  });

  it('keeps the version in force of a peer whose edit is unusable, saying it is stale; a new unusable peer is left out', () => {
    const first = toBgpState({ ...empty(), bgpPeers: [peer({ holdTime: '90s' })] }, undefined);
    expect(first.state.peers.map((p) => [p.name, p.holdTimeSec])).to.deep.equal([['tor', 90]]);
    const newcomer = { ...peer({ passwordSecret: { name: 'missing' } }), metadata: { ...peer({}).metadata, name: 'newcomer' } };
    const edited = toBgpState({ ...empty(), bgpPeers: [peer({ holdTime: 'soon' }), newcomer] }, undefined, first.state.peers);
    expect(edited.state.peers).to.deep.equal(first.state.peers);
    expect(edited.problems.map(({ object, path, stale }) => ({ object, path, stale }))).to.deep.equal([
      { object: 'BGPPeer/tor', path: 'spec.holdTime', stale: true },
      { object: 'BGPPeer/newcomer', path: 'spec.passwordSecret', stale: undefined },
    ]);
    // A valid edit takes effect.
    const fixed = toBgpState({ ...empty(), bgpPeers: [peer({ holdTime: '30s' })] }, undefined, edited.state.peers);
    expect(fixed.state.peers.map((p) => [p.name, p.holdTimeSec])).to.deep.equal([['tor', 30]]);
    expect(fixed.problems).to.deep.equal([]);
  });

  it('turns spec.failover into takeover announcements and a failback delay in milliseconds, leaving out what is not set or does not parse', () => {
    const advert = (name: string, failover?: L2Failover): L2Advertisement => ({ apiVersion: 'anchorlb.io/v1beta1', kind: 'L2Advertisement', metadata: { name }, spec: { interfaces: ['eth1'], ...(failover ? { failover } : {}) } });
    const snapshot = {
      ...empty(),
      l2Advertisements: [advert('both', { gratuitousCount: 7, gratuitousInterval: '1.5s', failbackDelay: '30s' }), advert('count', { gratuitousCount: 2 }), advert('delay-only', { failbackDelay: '10s' }), advert('none'), advert('bad', { gratuitousInterval: 'soon' })],
    };
    const views = toL2State(snapshot, undefined, () => undefined).advertisements;
    expect(views.map((view) => [view.name, view.takeover])).to.deep.equal([
      ['both', { announceCount: 7, announceIntervalMs: 1500 }],
      ['count', { announceCount: 2 }],
      ['delay-only', undefined],
      ['none', undefined],
      ['bad', {}],
    ]);
    expect(views.map((view) => view.failbackDelayMs)).to.deep.equal([30_000, undefined, 10_000, undefined, undefined]);
    expect(views[0]).to.not.have.property('failover');
    expect(views[0]!.interfaces).to.deep.equal(['eth1']);
  });

  it('tells the L2 election which nodes are cordoned and ready', () => {
    const nodes = [
      { metadata: { name: 'a' }, spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
      { metadata: { name: 'b' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } },
    ];
    const state = toL2State({ ...empty(), nodes }, undefined, () => undefined);
    expect(state.nodes.map((n) => [n.name, n.ready, n.cordoned])).to.deep.equal([
      ['a', true, true],
      ['b', false, false],
    ]);
  });
});

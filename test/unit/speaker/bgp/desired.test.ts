import { expect } from 'chai';
import fc from 'fast-check';
import {
  aggregatePrefix,
  clusterPeerConflicts,
  desiredBgpState,
  GRACEFUL_SHUTDOWN_COMMUNITY,
  peersForNode,
  type BgpPeerView,
  type ClusterBgpState,
  type ServiceView,
} from '../../../../src/speaker/bgp/desired.ts';

const peer = (name: string, extra: Partial<BgpPeerView> = {}): BgpPeerView => ({ name, createdAt: '2026-01-01T00:00:00Z', myASN: 64512, peerASN: 64500, peerAddress: '192.0.2.1', ...extra });
const service = (key: string, ips: string[], extra: Partial<ServiceView> = {}): ServiceView => ({ key, ips, pool: 'pool-a', externalTrafficPolicy: 'Cluster', nodesWithReadyEndpoints: new Set(), ...extra });
const base = (extra: Partial<ClusterBgpState> = {}): ClusterBgpState => ({
  peers: [peer('router')],
  advertisements: [{ name: 'all' }],
  pools: [{ name: 'pool-a', labels: { tier: 'public' } }, { name: 'pool-b' }],
  services: [service('default/web', ['192.0.2.100'])],
  communityAliases: new Map([['no-advertise-alias', '65535:65282']]),
  ...extra,
});
const node = { name: 'node1', labels: { 'kubernetes.io/hostname': 'node1', rack: 'r1' }, draining: false };
const prefixesOf = (state: ClusterBgpState, n = node) => Object.fromEntries(desiredBgpState(state, n).sessions.map((s) => [s.peer, [...s.prefixes.keys()].sort()]));

describe('speaker/bgp: desired state (pure)', () => {
  it('announces every Service IP of an advertised pool as a host route to every peer of the node', () => {
    const state = base({ peers: [peer('r1'), peer('r2', { peerAddress: '192.0.2.2' })], services: [service('default/web', ['192.0.2.100', '2001:db8::100'])] });
    expect(prefixesOf(state)).to.deep.equal({ r1: ['192.0.2.100/32', '2001:db8::100/128'], r2: ['192.0.2.100/32', '2001:db8::100/128'] });
  });

  it('opens sessions only for peers whose nodeSelectors select the node', () => {
    const state = base({ peers: [peer('rack1', { nodeSelectors: [{ matchLabels: { rack: 'r1' } }] }), peer('rack2', { peerAddress: '192.0.2.2', nodeSelectors: [{ matchLabels: { rack: 'r2' } }] })] });
    expect(Object.keys(prefixesOf(state))).to.deep.equal(['rack1']);
  });

  it('lets two peers share a peerAddress when their node selectors are disjoint, and refuses the newer when a node would open both', () => {
    const a = peer('tor-a', { createdAt: '2026-01-01T00:00:00Z', nodeSelectors: [{ matchLabels: { rack: 'r1' } }] });
    const b = peer('tor-b', { createdAt: '2026-02-01T00:00:00Z', nodeSelectors: [{ matchLabels: { rack: 'r2' } }] });
    expect(peersForNode([a, b], node).active.map((p) => p.name)).to.deep.equal(['tor-a']);
    expect(peersForNode([a, b], { name: 'node2', labels: { rack: 'r2' } }).active.map((p) => p.name)).to.deep.equal(['tor-b']);
    expect(clusterPeerConflicts([a, b], [node, { name: 'node2', labels: { rack: 'r2' } }])).to.deep.equal([]);

    const overlapping = { ...b, nodeSelectors: [] };
    const { active, refused } = peersForNode([overlapping, a], node);
    expect(active.map((p) => p.name)).to.deep.equal(['tor-a']);
    expect(refused).to.have.length(1);
    expect(refused[0]).to.include({ peer: 'tor-b', conflictsWith: 'tor-a' });
    expect(refused[0]!.message).to.contain('192.0.2.1').and.contain('node1');
  });

  it('lets two peers share a peerAddress from different sourceAddresses on the same node', () => {
    const a = peer('via-a', { sourceAddress: '198.51.100.1' });
    const b = peer('via-b', { sourceAddress: '198.51.100.2' });
    expect(peersForNode([a, b], node).active.map((p) => p.name)).to.deep.equal(['via-a', 'via-b']);
  });

  it('the older of two clashing peers keeps working whatever order they are listed in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ name: fc.stringMatching(/^p[a-z0-9]{1,5}$/), day: fc.integer({ min: 1, max: 28 }) }), { minLength: 2, maxLength: 8, selector: (p) => p.name }), (specs) => {
        const peers = specs.map((s) => peer(s.name, { createdAt: `2026-01-${String(s.day).padStart(2, '0')}T00:00:00Z` }));
        const oldest = [...peers].sort((x, y) => (x.createdAt < y.createdAt ? -1 : x.createdAt > y.createdAt ? 1 : x.name < y.name ? -1 : 1))[0]!;
        const forward = peersForNode(peers, node);
        const backward = peersForNode([...peers].reverse(), node);
        expect(forward.active.map((p) => p.name)).to.deep.equal([oldest.name]);
        expect(backward.active.map((p) => p.name)).to.deep.equal([oldest.name]);
        expect(forward.refused).to.have.length(peers.length - 1);
      }),
    );
  });

  it('announces eTP Local Services only from nodes with a ready local endpoint, eTP Cluster from every node', () => {
    const local = service('default/local', ['192.0.2.101'], { externalTrafficPolicy: 'Local', nodesWithReadyEndpoints: new Set(['node2']) });
    const state = base({ services: [service('default/web', ['192.0.2.100']), local] });
    expect(prefixesOf(state).router).to.deep.equal(['192.0.2.100/32']);
    expect(prefixesOf(state, { ...node, name: 'node2' }).router).to.deep.equal(['192.0.2.100/32', '192.0.2.101/32']);
  });

  it('selects pools by name or label, Services by serviceSelectors, nodes by nodeSelectors, peers by name', () => {
    const services = [service('default/a', ['192.0.2.100']), service('default/b', ['198.51.100.7'], { pool: 'pool-b', labels: { app: 'b' } })];
    expect(prefixesOf(base({ services, advertisements: [{ name: 'x', ipAddressPools: ['pool-b'] }] })).router).to.deep.equal(['198.51.100.7/32']);
    expect(prefixesOf(base({ services, advertisements: [{ name: 'x', ipAddressPoolSelectors: [{ matchLabels: { tier: 'public' } }] }] })).router).to.deep.equal(['192.0.2.100/32']);
    expect(prefixesOf(base({ services, advertisements: [{ name: 'x', serviceSelectors: [{ matchLabels: { app: 'b' } }] }] })).router).to.deep.equal(['198.51.100.7/32']);
    expect(prefixesOf(base({ services, advertisements: [{ name: 'x', nodeSelectors: [{ matchLabels: { rack: 'r9' } }] }] })).router).to.deep.equal([]);
    const twoPeers = [peer('r1'), peer('r2', { peerAddress: '192.0.2.2' })];
    expect(prefixesOf(base({ services, peers: twoPeers, advertisements: [{ name: 'x', peers: ['r2'] }] }))).to.deep.equal({ r1: [], r2: ['192.0.2.100/32', '198.51.100.7/32'] });
  });

  it('aggregates to the advertisement length, so several IPs can share one covering route', () => {
    const state = base({ services: [service('default/a', ['192.0.2.100', '192.0.2.101', '2001:db8::1:5'])], advertisements: [{ name: 'agg', aggregationLength: 24, aggregationLengthV6: 64 }] });
    expect(prefixesOf(state).router).to.deep.equal(['192.0.2.0/24', '2001:db8::/64']);
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, length) => {
        const prefix = aggregatePrefix(ip, { aggregationLength: length })!;
        const [network, bits] = prefix.split('/');
        expect(Number(bits)).to.equal(length);
        expect(aggregatePrefix(network!, { aggregationLength: length })).to.equal(prefix);
      }),
    );
  });

  it('resolves communities (literal, large, well-known, Community aliases) and sets localPref on iBGP only', () => {
    const advert = { name: 'tagged', localPref: 200, communities: ['65000:100', 'large:64512:1:2', 'no-export', 'no-advertise-alias'] };
    const state = base({ peers: [peer('ebgp'), peer('ibgp', { peerAddress: '192.0.2.2', peerASN: 64512 })], advertisements: [advert] });
    const sessions = Object.fromEntries(desiredBgpState(state, node).sessions.map((s) => [s.peer, s.prefixes.get('192.0.2.100/32')]));
    const communities = [65000 * 65536 + 100, 0xffffff01, 0xffffff02].sort((a, b) => a - b);
    expect(sessions.ebgp).to.deep.equal({ communities, largeCommunities: [[64512, 1, 2]] });
    expect(sessions.ibgp).to.deep.equal({ communities, largeCommunities: [[64512, 1, 2]], localPref: 200 });
  });

  it('reports an unknown alias with the field and value, and still announces the route', () => {
    const state = base({ advertisements: [{ name: 'bad', communities: ['65000:1', 'no-such-alias'] }] });
    const result = desiredBgpState(state, node);
    expect(result.problems).to.deep.equal([{ advertisement: 'bad', path: 'spec.communities[1]', value: 'no-such-alias', message: 'no Community defines the alias "no-such-alias"' }]);
    expect(result.sessions[0]!.prefixes.get('192.0.2.100/32')).to.deep.equal({ communities: [65000 * 65536 + 1], largeCommunities: [] });
  });

  it('merges what several advertisements say about one prefix', () => {
    const state = base({
      peers: [peer('ibgp', { peerASN: 64512 })],
      advertisements: [{ name: 'a', communities: ['65000:1'], localPref: 100 }, { name: 'b', communities: ['65000:2', 'large:1:2:3'], localPref: 300 }],
    });
    expect(desiredBgpState(state, node).sessions[0]!.prefixes.get('192.0.2.100/32')).to.deep.equal({ communities: [65000 * 65536 + 1, 65000 * 65536 + 2], largeCommunities: [[1, 2, 3]], localPref: 300 });
  });

  it('holds announced IPs on the bindToInterface interface, and none when no session carries them', () => {
    const state = base({ services: [service('default/a', ['192.0.2.100', '2001:db8::100'])], advertisements: [{ name: 'b', bindToInterface: 'lo' }, { name: 'c', bindToInterface: 'dummy0' }] });
    expect(Object.fromEntries(desiredBgpState(state, node).boundAddresses)).to.deep.equal({ '192.0.2.100': ['dummy0', 'lo'], '2001:db8::100': ['dummy0', 'lo'] });
    expect(desiredBgpState({ ...state, peers: [] }, node).boundAddresses.size).to.equal(0);
  });

  it('adds GRACEFUL_SHUTDOWN to every route of a draining node', () => {
    const result = desiredBgpState(base(), { ...node, draining: true });
    expect(result.sessions[0]!.prefixes.get('192.0.2.100/32')!.communities).to.deep.equal([GRACEFUL_SHUTDOWN_COMMUNITY]);
  });

  it('is a function of its inputs: the same state gives the same answer, whatever the order of Services and advertisements', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.ipV4(), { minLength: 1, maxLength: 20 }), fc.boolean(), (ips, reverse) => {
        const services = ips.map((ip, i) => service(`default/s${i}`, [ip]));
        const adverts = [{ name: 'a', communities: ['65000:1'] }, { name: 'b', communities: ['65000:2'] }];
        const one = desiredBgpState(base({ services, advertisements: adverts }), node);
        const two = desiredBgpState(base({ services: reverse ? [...services].reverse() : services, advertisements: [...adverts].reverse() }), node);
        expect([...two.sessions[0]!.prefixes].sort()).to.deep.equal([...one.sessions[0]!.prefixes].sort());
      }),
    );
  });

  it('Services sharing an IP announce the union: a node with an endpoint of any of them, or of a Cluster one, announces it', () => {
    const shared = '192.0.2.150';
    const localOnNode2 = service('default/a', [shared], { externalTrafficPolicy: 'Local', nodesWithReadyEndpoints: new Set(['node2']) });
    const localOnNode3 = service('default/b', [shared], { externalTrafficPolicy: 'Local', nodesWithReadyEndpoints: new Set(['node3']) });
    const bothLocal = base({ services: [localOnNode2, localOnNode3] });
    expect(prefixesOf(bothLocal).router).to.deep.equal([]);
    expect(prefixesOf(bothLocal, { ...node, name: 'node2' }).router).to.deep.equal([`${shared}/32`]);
    expect(prefixesOf(bothLocal, { ...node, name: 'node3' }).router).to.deep.equal([`${shared}/32`]);
    const withCluster = base({ services: [localOnNode2, service('default/c', [shared])] });
    expect(prefixesOf(withCluster).router).to.deep.equal([`${shared}/32`]);
  });
});

import { expect } from 'chai';
import fc from 'fast-check';
import { electL2Owner, l2Eligibility, EXCLUDE_FROM_LB_LABEL, type IpElectionInput, type NodeView } from '../../../src/speaker/election.ts';

const clusterService = (key = 'default/web') => ({ key, externalTrafficPolicy: 'Cluster' as const, nodesWithReadyEndpoints: new Set<string>() });
const everyNode: IpElectionInput['advertisements'] = [{ name: 'l2' }];

const nodesArbitrary = fc.uniqueArray(fc.stringMatching(/^node-[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 12 }).map((names) =>
  names.map((name): NodeView => ({ name, ready: true, labels: { 'kubernetes.io/hostname': name } })),
);
const ipArbitrary = fc.oneof(fc.ipV4(), fc.ipV6());

describe('speaker/election: L2 owner per IP', () => {
  it('every node computing from the same state agrees on one owner, whatever order it sees the nodes in', () => {
    fc.assert(
      fc.property(nodesArbitrary, ipArbitrary, fc.integer(), (nodes, ip, seed) => {
        const live = new Set(nodes.map((n) => n.name));
        const input = { ip, advertisements: everyNode, services: [clusterService()] };
        const owners = new Set<string | undefined>();
        for (let i = 0; i < nodes.length; i++) {
          const shuffled = [...nodes].sort((a, b) => ((a.name.charCodeAt(i % a.name.length) ^ seed) % 7) - ((b.name.charCodeAt(i % b.name.length) ^ seed) % 7));
          owners.add(electL2Owner(shuffled, live, input));
        }
        expect(owners.size).to.equal(1);
        expect(live.has([...owners][0] as string)).to.equal(true);
      }),
    );
  });

  it('removing one node moves only the IPs that node owned', () => {
    fc.assert(
      fc.property(nodesArbitrary.filter((n) => n.length >= 2), fc.uniqueArray(fc.ipV4(), { minLength: 1, maxLength: 40 }), (nodes, ips) => {
        const live = new Set(nodes.map((n) => n.name));
        const before = new Map(ips.map((ip) => [ip, electL2Owner(nodes, live, { ip, advertisements: everyNode, services: [clusterService()] })]));
        const gone = nodes[0]!.name;
        const liveAfter = new Set([...live].filter((n) => n !== gone));
        for (const ip of ips) {
          const after = electL2Owner(nodes, liveAfter, { ip, advertisements: everyNode, services: [clusterService()] });
          if (before.get(ip) !== gone) expect(after).to.equal(before.get(ip));
          else expect(after).to.not.equal(gone);
        }
      }),
    );
  });

  it('spreads IPs over nodes instead of piling them on one', () => {
    const nodes: NodeView[] = ['a', 'b', 'c'].map((name) => ({ name, ready: true }));
    const live = new Set(['a', 'b', 'c']);
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const owner = electL2Owner(nodes, live, { ip: `192.0.2.${i % 256}`, advertisements: everyNode, services: [clusterService()] });
      counts.set(owner!, (counts.get(owner!) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).to.deep.equal(['a', 'b', 'c']);
    for (const count of counts.values()) expect(count).to.be.above(50);
  });

  it('Services sharing an IP are judged together: an eTP Local sharer needs a local endpoint on the owner', () => {
    const nodes: NodeView[] = ['a', 'b', 'c'].map((name) => ({ name, ready: true }));
    const live = new Set(['a', 'b', 'c']);
    fc.assert(
      fc.property(fc.ipV4(), fc.constantFrom('a', 'b', 'c'), (ip, endpointNode) => {
        const local = { key: 'default/dns-udp', externalTrafficPolicy: 'Local' as const, nodesWithReadyEndpoints: new Set([endpointNode]) };
        const localTcp = { ...local, key: 'default/dns-tcp' };
        expect(electL2Owner(nodes, live, { ip, advertisements: everyNode, services: [local, localTcp] })).to.equal(endpointNode);
      }),
    );
  });

  it('has no owner when no node has a ready local endpoint for an eTP Local Service', () => {
    const nodes: NodeView[] = [{ name: 'a', ready: true }];
    const local = { key: 'default/x', externalTrafficPolicy: 'Local' as const, nodesWithReadyEndpoints: new Set<string>() };
    expect(electL2Owner(nodes, new Set(['a']), { ip: '192.0.2.10', advertisements: everyNode, services: [local] })).to.equal(undefined);
  });

  it('says why a node may not answer', () => {
    const input: IpElectionInput = {
      ip: '192.0.2.10',
      advertisements: [{ name: 'l2', nodeSelectors: [{ matchLabels: { edge: 'true' } }], interfaces: ['eth1'] }],
      services: [clusterService()],
    };
    const live = new Set(['a']);
    expect(l2Eligibility({ name: 'b', ready: true }, live, input).reason).to.equal('NotLive');
    expect(l2Eligibility({ name: 'a', ready: false }, live, input).reason).to.equal('NotReady');
    expect(l2Eligibility({ name: 'a', ready: true, labels: { [EXCLUDE_FROM_LB_LABEL]: '' } }, live, input).reason).to.equal('ExcludedByLabel');
    expect(l2Eligibility({ name: 'a', ready: true, labels: {} }, live, input).reason).to.equal('NotSelected');
    expect(l2Eligibility({ name: 'a', ready: true, labels: { edge: 'true' }, interfaces: ['eth0'] }, live, input).reason).to.equal('NoMatchingInterface');
    expect(l2Eligibility({ name: 'a', ready: true, labels: { edge: 'true' }, interfaces: ['eth0', 'eth1'] }, live, input)).to.deep.equal({ eligible: true, preference: 0 });
  });

  it('prefers nodes matching preferredNodeSelectors by their summed weight before hashing', () => {
    fc.assert(
      fc.property(nodesArbitrary.filter((n) => n.length >= 2), ipArbitrary, (nodes, ip) => {
        const preferredName = nodes[nodes.length - 1]!.name;
        const labelled = nodes.map((n) => (n.name === preferredName ? { ...n, labels: { ...n.labels, rack: 'r1' } } : n));
        const input: IpElectionInput = { ip, advertisements: [{ name: 'l2', preferredNodeSelectors: [{ weight: 50, preference: { matchLabels: { rack: 'r1' } } }] }], services: [clusterService()] };
        expect(electL2Owner(labelled, new Set(nodes.map((n) => n.name)), input)).to.equal(preferredName);
      }),
    );
  });
});

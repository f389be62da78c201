import { expect } from 'chai';
import fc from 'fast-check';
import { electL2Owner, l2Eligibility, EXCLUDE_FROM_LB_LABEL, STARTED_TOGETHER_MS, type IpElectionInput, type NodeView } from '../../../src/speaker/election.ts';

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

  describe('failbackDelay', () => {
    const delayMs = 10_000;
    const input = (ip: string, now: number, joinedAt: ReadonlyMap<string, number>): IpElectionInput => ({
      ip,
      advertisements: everyNode,
      services: [clusterService()],
      failback: { delayMs, now, joinedAt },
    });
    /** Every node but the newcomer up since 0; the newcomer (re)started at `restartAt`. */
    const joinTimes = (nodes: readonly NodeView[], newcomer: string, restartAt: number) => new Map(nodes.map((n) => [n.name, n.name === newcomer ? restartAt : 0]));
    const plain = (nodes: readonly NodeView[], ip: string, live: ReadonlySet<string>) => electL2Owner(nodes, live, { ip, advertisements: everyNode, services: [clusterService()] });

    it('a restarted node takes back nothing the others can hold until the delay has passed, then gets its IPs at once', () => {
      fc.assert(
        fc.property(nodesArbitrary.filter((nodes) => nodes.length >= 2), ipArbitrary, fc.nat({ max: 100_000 }), fc.nat({ max: delayMs - 1 }), (nodes, ip, restartAt, elapsed) => {
          const live = new Set(nodes.map((n) => n.name));
          const newcomer = plain(nodes, ip, live)!;
          const others = new Set([...live].filter((name) => name !== newcomer));
          const restartedAt = restartAt + STARTED_TOGETHER_MS + 1;
          const joinedAt = joinTimes(nodes, newcomer, restartedAt);
          expect(electL2Owner(nodes, live, input(ip, restartedAt + elapsed, joinedAt))).to.equal(plain(nodes, ip, others));
          expect(electL2Owner(nodes, live, input(ip, restartedAt + delayMs, joinedAt))).to.equal(newcomer);
        }),
      );
    });

    it('a restarted node takes at once an IP no other node can hold', () => {
      const nodes: NodeView[] = [{ name: 'n1', ready: true }, { name: 'n2', ready: false }, { name: 'n3', ready: true }];
      const live = new Set(['n1', 'n2']);
      expect(electL2Owner(nodes, live, input('192.0.2.10', 5_000, new Map([['n1', 4_000], ['n2', 0]])))).to.equal('n1');
    });

    it('nodes that started together (within STARTED_TOGETHER_MS) elect as without the delay: nobody was there before them', () => {
      fc.assert(
        fc.property(nodesArbitrary, ipArbitrary, fc.nat({ max: delayMs - 1 }), fc.array(fc.nat({ max: STARTED_TOGETHER_MS }), { minLength: 12, maxLength: 12 }), (nodes, ip, elapsed, offsets) => {
          const live = new Set(nodes.map((n) => n.name));
          const joinedAt = new Map(nodes.map((n, i) => [n.name, 1_000 + offsets[i]!]));
          expect(electL2Owner(nodes, live, input(ip, 1_000 + elapsed, joinedAt))).to.equal(plain(nodes, ip, live));
        }),
      );
    });

    it('nodes starting one after another: an IP only moves to a node whose delay just ended and that beats its holder, so it never flaps', () => {
      fc.assert(
        fc.property(nodesArbitrary, ipArbitrary, fc.array(fc.nat({ max: 30_000 }), { minLength: 12, maxLength: 12 }), fc.nat({ max: 50_000 }), fc.nat({ max: 50_000 }), (nodes, ip, starts, a, b) => {
          const live = new Set(nodes.map((n) => n.name));
          const joinedAt = new Map(nodes.map((n, i) => [n.name, starts[i]!]));
          const [t1, t2] = a <= b ? [a, b] : [b, a];
          const before = electL2Owner(nodes, live, input(ip, t1, joinedAt))!;
          const after = electL2Owner(nodes, live, input(ip, t2, joinedAt))!;
          if (before === after) return;
          const delayEnd = joinedAt.get(after)! + delayMs;
          expect(delayEnd > t1 && delayEnd <= t2, `${after}'s delay ended between ${t1} and ${t2}`).to.equal(true);
          expect(plain(nodes, ip, new Set([before, after]))).to.equal(after);
        }),
      );
    });

    it('all nodes agree on the owner except within the clock skew of a delay\'s end (there the holder still defends the IP against the newcomer\'s probe)', () => {
      fc.assert(
        fc.property(
          nodesArbitrary,
          ipArbitrary,
          fc.array(fc.record({ start: fc.nat({ max: 30_000 }), ownLag: fc.nat({ max: 50 }), skew: fc.integer({ min: -300, max: 300 }) }), { minLength: 12, maxLength: 12 }),
          fc.nat({ max: 50_000 }),
          (nodes, ip, clocks, now) => {
            const live = new Set(nodes.map((n) => n.name));
            const starts = new Map(nodes.map((n, i) => [n.name, clocks[i]!.start]));
            const margin = Math.max(...clocks.map((clock) => Math.abs(clock.skew) + clock.ownLag));
            const earliest = Math.min(...starts.values());
            const nearDelayEnd = (start: number) => Math.abs(start + delayMs - now) <= margin;
            const nearTogetherEdge = (start: number) => Math.abs(start - earliest - STARTED_TOGETHER_MS) <= margin;
            if ([...starts.values()].some((start) => nearDelayEnd(start) || nearTogetherEdge(start))) return;
            const owners = new Set(
              nodes.map((node, i) => {
                const view = new Map(starts).set(node.name, clocks[i]!.start + clocks[i]!.ownLag);
                return electL2Owner(nodes, live, input(ip, now + clocks[i]!.skew, view));
              }),
            );
            expect(owners.size).to.equal(1);
          },
        ),
      );
    });
  });

  it('moves every IP off a cordoned node (it is being drained), unless no other node can hold it', () => {
    fc.assert(
      fc.property(nodesArbitrary.filter((n) => n.length >= 2), fc.uniqueArray(fc.ipV4(), { minLength: 1, maxLength: 30 }), (nodes, ips) => {
        const live = new Set(nodes.map((n) => n.name));
        const drained = nodes[0]!.name;
        const withCordon = nodes.map((n) => (n.name === drained ? { ...n, cordoned: true } : n));
        for (const ip of ips) {
          const input = { ip, advertisements: everyNode, services: [clusterService()] };
          const before = electL2Owner(nodes, live, input);
          const after = electL2Owner(withCordon, live, input);
          expect(after).to.not.equal(drained);
          // Only the drained node's IPs move.
          if (before !== drained) expect(after).to.equal(before);
        }
      }),
    );
    const alone: NodeView[] = [{ name: 'only', ready: true, cordoned: true }];
    expect(electL2Owner(alone, new Set(['only']), { ip: '192.0.2.1', advertisements: everyNode, services: [clusterService()] })).to.equal('only');
  });
});

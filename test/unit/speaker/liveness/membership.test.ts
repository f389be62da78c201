import { expect } from 'chai';
import fc from 'fast-check';
import { DEFAULT_LIVENESS, Membership } from '../../../../src/speaker/liveness/membership.ts';
import type { Heartbeat } from '../../../../src/speaker/liveness/heartbeat.ts';

const beat = (node: string, sequence: bigint, extra: Partial<Heartbeat> = {}): Heartbeat => ({ node, incarnation: 1n, sequence, sentAt: 0n, leaving: false, interfaces: ['eth0'], ...extra });
/** Receives `heartbeat` at `now`, sent at `now` by a sender whose clock agrees with ours. */
const hear = (members: Membership, heartbeat: Heartbeat, now: number) => members.receive({ ...heartbeat, sentAt: BigInt(now) }, now);

describe('speaker/liveness: membership', () => {
  it('counts itself and every node it hears from as live', () => {
    const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 5 });
    expect(hear(members, beat('b', 1n), 0).events).to.deep.equal([{ type: 'joined', node: 'b' }]);
    expect(hear(members, beat('b', 2n), 100).events).to.deep.equal([]);
    expect([...members.live()].sort()).to.deep.equal(['a', 'b']);
    expect(members.interfacesOf('b')).to.deep.equal(['eth0']);
  });

  it('says when a live node\'s interfaces change (the L2 election depends on them), not on every heartbeat', () => {
    const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 5 });
    members.receive(beat('b', 1n), 0);
    expect(members.receive(beat('b', 2n, { interfaces: ['eth0', 'vlan42'] }), 100).events).to.deep.equal([{ type: 'interfacesChanged', node: 'b', interfaces: ['eth0', 'vlan42'] }]);
    expect(members.receive(beat('b', 3n, { interfaces: ['eth0', 'vlan42'] }), 200).events).to.deep.equal([]);
    expect(members.interfacesOf('b')).to.deep.equal(['eth0', 'vlan42']);
    expect(members.receive(beat('b', 4n), 300).events).to.deep.equal([{ type: 'interfacesChanged', node: 'b', interfaces: ['eth0'] }]);
  });

  it('fails a silent node after exactly the detection time, not before', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 1000 }), fc.integer({ min: 2, max: 10 }), (intervalMs, missed) => {
        const members = new Membership({ self: 'a', intervalMs, missedHeartbeats: missed });
        hear(members, beat('b', 1n), 0);
        expect(members.tick(intervalMs * missed)).to.deep.equal([]);
        expect(members.tick(intervalMs * missed + 1)).to.deep.equal([{ type: 'failed', node: 'b', silentForMs: intervalMs * missed + 1 }]);
        expect(members.live().has('b')).to.equal(false);
        expect(members.tick(intervalMs * missed * 10)).to.deep.equal([]);
      }),
    );
  });

  it('drops replayed heartbeats, so an old datagram cannot revive a failed node', () => {
    const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 3 });
    hear(members, beat('b', 5n), 0);
    members.tick(1000);
    expect(hear(members, beat('b', 5n), 1001).verdict).to.equal('replayed');
    expect(hear(members, beat('b', 4n), 1002).verdict).to.equal('replayed');
    expect(members.live().has('b')).to.equal(false);
    expect(members.counters.replayed).to.equal(2);
    expect(hear(members, beat('b', 6n), 1003).events).to.deep.equal([{ type: 'joined', node: 'b' }]);
  });

  describe('freshness (replays to a receiver that restarted)', () => {
    it('a receiver with no memory of the node refuses a heartbeat sent longer ago than the window, in either direction, and accepts one within it', () => {
      fc.assert(
        fc.property(fc.integer({ min: 100, max: 60_000 }), fc.integer({ min: 0, max: 120_000 }), fc.boolean(), (freshnessMs, age, future) => {
          const now = 1_000_000;
          // A fresh Membership: the receiver just restarted and knows no sequence number.
          const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 5, freshnessMs });
          const sentAt = BigInt(future ? now + age : now - age);
          const result = members.receive(beat('b', 7n, { sentAt }), now);
          if (age > freshnessMs) {
            expect(result).to.deep.equal({ verdict: 'stale', events: [], skewMs: future ? -age : age });
            expect(members.live().has('b')).to.equal(false);
            expect(members.counters.stale).to.equal(1);
          } else {
            expect(result.verdict).to.equal('accepted');
            expect(members.live().has('b')).to.equal(true);
          }
        }),
      );
    });

    it('by default: a recording replayed 5 s after it was made revives nobody, one 1 s old is a live node', () => {
      expect(DEFAULT_LIVENESS.freshnessMs).to.equal(5000);
      const recordedAt = 50_000;
      const restarted = new Membership({ self: 'a', ...DEFAULT_LIVENESS });
      expect(restarted.receive(beat('b', 9n, { sentAt: BigInt(recordedAt) }), recordedAt + 5_001).verdict).to.equal('stale');
      expect(restarted.live().has('b')).to.equal(false);
      expect(restarted.receive(beat('b', 9n, { sentAt: BigInt(recordedAt) }), recordedAt + 1_000).verdict).to.equal('accepted');
    });
  });

  it('accepts a restarted speaker (new incarnation) even though its sequence starts over', () => {
    const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 3 });
    hear(members, beat('b', 900n), 0);
    expect(hear(members, beat('b', 1n, { incarnation: 2n }), 50).verdict).to.equal('accepted');
    expect(hear(members, beat('b', 901n), 60).verdict).to.equal('replayed');
  });

  it('removes a leaving node at once (planned move) and itself when it leaves', () => {
    const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 3 });
    hear(members, beat('b', 1n), 0);
    expect(hear(members, beat('b', 2n, { leaving: true }), 10).events).to.deep.equal([{ type: 'left', node: 'b' }]);
    expect(members.live().has('b')).to.equal(false);
    members.leave();
    expect(members.live().size).to.equal(0);
  });

  it('ignores its own heartbeats echoed back', () => {
    const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 3 });
    expect(hear(members, beat('a', 1n), 0).verdict).to.equal('self');
  });

  it('converges: nodes hearing the same heartbeats in any order agree on who is live', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ node: fc.constantFrom('b', 'c', 'd'), sequence: fc.bigInt({ min: 1n, max: 50n }), leaving: fc.boolean() }), { maxLength: 30 }),
        fc.integer(),
        (beats, seed) => {
          const views = [beats, [...beats].reverse(), [...beats].sort((x, y) => (Number(x.sequence) * seed) % 5 - (Number(y.sequence) * seed) % 5)].map((order) => {
            const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 3 });
            for (const b of order) hear(members, beat(b.node, b.sequence, { leaving: b.leaving }), 0);
            return [...members.live()].sort().join(',');
          });
          // The newest heartbeat of each node decides; ties in sequence with different flags are not produced by a real sender.
          const newest = new Map<string, { sequence: bigint; leaving: boolean[] }>();
          for (const b of beats) {
            const known = newest.get(b.node);
            if (!known || b.sequence > known.sequence) newest.set(b.node, { sequence: b.sequence, leaving: [b.leaving] });
            else if (b.sequence === known.sequence) known.leaving.push(b.leaving);
          }
          const unambiguous = [...newest.values()].every((n) => new Set(n.leaving).size === 1);
          if (unambiguous) expect(new Set(views).size).to.equal(1);
        },
      ),
    );
  });

  describe('join times (failbackDelay)', () => {
    it('reports each live node\'s start as its incarnation says, and its own as the first time it was told', () => {
      const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 5 });
      expect(members.joinTimes()).to.deep.equal(new Map());
      members.tick(5_000);
      hear(members, beat('b', 1n, { incarnation: 4_000n }), 5_010);
      members.tick(5_100);
      expect(members.joinTimes()).to.deep.equal(new Map([['b', 4_000], ['a', 5_000]]));
    });

    it('a restart (new incarnation) is a new join; a healed silence is not, so a partition heals without waiting', () => {
      const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 5 });
      hear(members, beat('b', 7n, { incarnation: 1_000n }), 2_000);
      members.tick(3_000);
      expect(members.joinTimes().has('b')).to.equal(false);
      hear(members, beat('b', 8n, { incarnation: 1_000n }), 3_100);
      expect(members.joinTimes().get('b')).to.equal(1_000);
      hear(members, beat('b', 1n, { incarnation: 3_500n }), 3_600);
      expect(members.joinTimes().get('b')).to.equal(3_500);
    });

    it('a start later than the heartbeat\'s arrival (clock skew) counts as the arrival; a leaving node has none', () => {
      const members = new Membership({ self: 'a', intervalMs: 100, missedHeartbeats: 5 });
      hear(members, beat('b', 1n, { incarnation: 9_999n }), 2_000);
      expect(members.joinTimes().get('b')).to.equal(2_000);
      hear(members, beat('b', 2n, { incarnation: 9_999n, leaving: true }), 2_100);
      members.leave();
      expect(members.joinTimes()).to.deep.equal(new Map());
    });
  });
});

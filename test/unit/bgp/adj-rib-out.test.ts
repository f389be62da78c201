import { expect } from 'chai';
import fc from 'fast-check';
import { formatPrefix, parsePrefix } from '../../../src/bgp/codec/index.ts';
import { AdjRibOut, type RibChanges, type Route } from '../../../src/bgp/adj-rib-out.ts';

const route = (text: string, communities?: number[]): Route => ({ prefix: parsePrefix(text), attributes: communities ? { communities } : {} });
const texts = (changes: RibChanges): { announce: string[][]; withdraw: string[] } => ({
  announce: changes.announce.map((b) => b.prefixes.map(formatPrefix).sort()),
  withdraw: changes.withdraw.map(formatPrefix).sort(),
});

describe('Adj-RIB-Out', () => {
  it('groups prefixes with identical attributes into one batch, whatever the community order', () => {
    const rib = new AdjRibOut();
    rib.setRoutes([route('192.0.2.10/32', [1, 2]), route('2001:db8::10/128', [2, 1, 2]), route('192.0.2.11/32', [3])]);
    const changes = rib.takeChanges();
    expect(changes.announce).to.have.length(2);
    expect(texts(changes).announce).to.deep.include(['192.0.2.10/32', '2001:db8::10/128']);
    expect(changes.announce.find((b) => b.prefixes.length === 2)?.attributes.communities).to.deep.equal([1, 2]);
  });

  it('sends nothing when an unchanged route is announced again', () => {
    const rib = new AdjRibOut();
    rib.setRoutes([route('192.0.2.10/32', [1])]);
    rib.takeChanges();
    rib.setRoutes([route('192.0.2.10/32', [1])]);
    expect(rib.dirty).to.equal(false);
    expect(rib.takeChanges()).to.deep.equal({ announce: [], withdraw: [] });
  });

  it('withdraws what was sent and is no longer wanted, and re-announces changed attributes', () => {
    const rib = new AdjRibOut();
    rib.setRoutes([route('192.0.2.10/32'), route('192.0.2.11/32')]);
    rib.takeChanges();
    rib.setRoutes([route('192.0.2.11/32', [7])]);
    expect(texts(rib.takeChanges())).to.deep.equal({ announce: [['192.0.2.11/32']], withdraw: ['192.0.2.10/32'] });
  });

  it('never withdraws what was never sent', () => {
    const rib = new AdjRibOut();
    rib.setRoutes([route('192.0.2.10/32')]);
    rib.setRoutes([]);
    expect(rib.takeChanges()).to.deep.equal({ announce: [], withdraw: [] });
  });

  it('after forgetSent (session down) announces everything again and withdraws nothing', () => {
    const rib = new AdjRibOut();
    rib.setRoutes([route('192.0.2.10/32')]);
    rib.takeChanges();
    rib.forgetSent();
    rib.setRoutes([route('192.0.2.11/32')]);
    expect(texts(rib.takeChanges())).to.deep.equal({ announce: [['192.0.2.11/32']], withdraw: [] });
  });

  it('update() adds and removes routes incrementally, also right after a full send', () => {
    const rib = new AdjRibOut();
    rib.setRoutes([route('192.0.2.10/32'), route('192.0.2.11/32')]);
    rib.takeChanges();
    rib.update([route('192.0.2.12/32')], [parsePrefix('192.0.2.10/32')]);
    expect(texts(rib.takeChanges())).to.deep.equal({ announce: [['192.0.2.12/32']], withdraw: ['192.0.2.10/32'] });
    rib.update([], [parsePrefix('192.0.2.99/32')]);
    expect(rib.takeChanges()).to.deep.equal({ announce: [], withdraw: [] });
    expect(rib.sentCount).to.equal(2);
  });

  it('rejects attribute values that cannot go on the wire, naming the field', () => {
    const rib = new AdjRibOut();
    expect(() => rib.setRoutes([route('192.0.2.10/32', [-1])])).to.throw(RangeError, 'communities: -1');
    expect(() => rib.setRoutes([{ prefix: parsePrefix('192.0.2.10/32'), attributes: { med: 2 ** 32 } }])).to.throw(RangeError, 'med: 4294967296');
  });

  it('all() lists every desired route for a route refresh', () => {
    const rib = new AdjRibOut();
    rib.setRoutes([route('192.0.2.10/32'), route('192.0.2.11/32', [1])]);
    rib.takeChanges();
    expect(rib.all().flatMap((b) => b.prefixes.map(formatPrefix)).sort()).to.deep.equal(['192.0.2.10/32', '192.0.2.11/32']);
  });

  it('the peer ends up with exactly the last desired set after any sequence of updates', () => {
    const prefix = fc.integer({ min: 0, max: 15 }).map((i) => `198.51.100.${i}/32`);
    const routes = fc.array(fc.record({ p: prefix, c: fc.integer({ min: 0, max: 2 }) }), { maxLength: 10 });
    fc.assert(
      fc.property(fc.array(fc.tuple(routes, fc.boolean()), { minLength: 1, maxLength: 8 }), (steps) => {
        const rib = new AdjRibOut();
        const peer = new Map<string, string>();
        let last: Route[] = [];
        for (const [set, sessionReset] of steps) {
          if (sessionReset) {
            rib.forgetSent();
            peer.clear();
          }
          last = set.map((r) => route(r.p, [r.c]));
          rib.setRoutes(last);
          const changes = rib.takeChanges();
          for (const p of changes.withdraw) {
            expect(peer.has(formatPrefix(p)), 'withdraw of something never sent').to.equal(true);
            peer.delete(formatPrefix(p));
          }
          for (const b of changes.announce) for (const p of b.prefixes) peer.set(formatPrefix(p), JSON.stringify(b.attributes));
        }
        const want = new Map(last.map((r) => [formatPrefix(r.prefix), JSON.stringify(r.attributes)]));
        expect(peer).to.deep.equal(want);
      }),
    );
  });
});

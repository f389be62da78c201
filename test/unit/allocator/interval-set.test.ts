import { expect } from 'chai';
import fc from 'fast-check';
import { IntervalSet } from '../../../src/allocator/interval-set.ts';

/** The set's members, expanded (small sets only). */
function members(set: IntervalSet): bigint[] {
  return set.intervals().flatMap(({ first, last }) => {
    const out: bigint[] = [];
    for (let value = first; value <= last; value++) out.push(value);
    return out;
  });
}

describe('IntervalSet', () => {
  it('holds a /64 as one interval and counts it exactly', () => {
    const set = new IntervalSet();
    set.addRange(0n, (1n << 64n) - 1n);
    expect(set.size).to.equal(1n << 64n);
    expect(set.intervalCount).to.equal(1);
    expect(set.delete(1n << 63n)).to.equal(true);
    expect(set.intervalCount).to.equal(2);
    expect(set.has(1n << 63n)).to.equal(false);
    expect(set.has((1n << 63n) + 1n)).to.equal(true);
    expect(set.size).to.equal((1n << 64n) - 1n);
  });

  it('merges adjacent additions and splits on deletion', () => {
    const set = new IntervalSet();
    set.addRange(10n, 12n);
    set.addRange(14n, 15n);
    expect(set.intervals()).to.deep.equal([
      { first: 10n, last: 12n },
      { first: 14n, last: 15n },
    ]);
    expect(set.add(13n)).to.equal(true);
    expect(set.intervals()).to.deep.equal([{ first: 10n, last: 15n }]);
    expect(set.add(13n)).to.equal(false);
    expect(set.delete(12n)).to.equal(true);
    expect(set.delete(12n)).to.equal(false);
    expect(set.intervals()).to.deep.equal([
      { first: 10n, last: 11n },
      { first: 13n, last: 15n },
    ]);
    expect(set.first()).to.deep.include({ first: 10n, last: 11n });
  });

  it('refuses ranges that intersect members or are empty', () => {
    const set = new IntervalSet();
    set.addRange(5n, 9n);
    expect(() => set.addRange(9n, 20n)).to.throw(RangeError, /intersects/);
    expect(() => set.addRange(0n, 5n)).to.throw(RangeError, /intersects/);
    expect(() => set.addRange(3n, 2n)).to.throw(RangeError, /empty/);
    expect(() => set.deleteInterval({ first: 5n, last: 8n })).to.throw(RangeError, /not a member/);
  });

  it('behaves like a plain set of values under random operations', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), value: fc.integer({ min: 0, max: 80 }) }),
      fc.record({ kind: fc.constant('delete' as const), value: fc.integer({ min: 0, max: 80 }) }),
      fc.record({ kind: fc.constant('dropFirst' as const), value: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
        const set = new IntervalSet();
        const model = new Set<number>();
        for (const { kind, value } of operations) {
          if (kind === 'add') {
            expect(set.add(BigInt(value))).to.equal(!model.has(value));
            model.add(value);
          } else if (kind === 'delete') {
            expect(set.delete(BigInt(value))).to.equal(model.has(value));
            model.delete(value);
          } else {
            const first = set.first();
            if (first === undefined) continue;
            set.deleteInterval(first);
            for (let v = Number(first.first); v <= Number(first.last); v++) model.delete(v);
          }
        }
        const expected = [...model].sort((a, b) => a - b).map(BigInt);
        expect(members(set)).to.deep.equal(expected);
        expect(set.size).to.equal(BigInt(model.size));
        // Disjoint and never adjacent: every gap between intervals is at least one value.
        const intervals = set.intervals();
        intervals.slice(1).forEach((interval, i) => expect(interval.first > (intervals[i]?.last ?? -1n) + 1n).to.equal(true));
        expect(set.intervalCount).to.equal(intervals.length);
        for (let v = 0; v <= 81; v++) expect(set.has(BigInt(v))).to.equal(model.has(v));
      }),
      { numRuns: 300 },
    );
  });
});

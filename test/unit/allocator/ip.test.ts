import { expect } from 'chai';
import fc from 'fast-check';
import { formatIP } from '../../../src/api/net.ts';
import {
  countBuggyIPv4,
  formatAddress,
  IpInputError,
  isBuggyIPv4,
  nextNonBuggyIPv4,
  parseAddress,
  parseRange,
} from '../../../src/allocator/ip.ts';

describe('allocator IP parsing', () => {
  it('parses both families (spaces around ignored) and formats them canonically', () => {
    expect(parseAddress(' 192.0.2.7 ', 'f').value).to.equal(0xc0000207n);
    expect(parseAddress('192.0.2.7', 'f')).to.deep.equal({ family: 'IPv4', value: 0xc0000207n });
    const v6 = parseAddress('2001:DB8:0:0::1', 'f');
    expect(v6.family).to.equal('IPv6');
    expect(formatAddress(v6.family, v6.value)).to.equal('2001:db8::1');
  });

  it('formats exactly as the API does (the fast path must not drift from it)', () => {
    // Groups biased to 0 and 1 so that zero runs of every length and position occur.
    const group = fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (groups, v4) => {
        const v6 = groups.reduce((value, g) => (value << 16n) | BigInt(g), 0n);
        expect(formatAddress('IPv6', v6)).to.equal(formatIP(6, v6));
        expect(formatAddress('IPv4', BigInt(v4))).to.equal(formatIP(4, BigInt(v4)));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects bad addresses with the field and the value in the message', () => {
    for (const text of ['192.0.2', '192.0.2.256', '01.2.3.4', 'fe80::1%eth0', '192.0.2.1/32', 'nope', '']) {
      expect(() => parseAddress(text, 'loadBalancerIPs'))
        .to.throw(IpInputError)
        .with.property('message')
        .that.contains('loadBalancerIPs')
        .and.contains(JSON.stringify(text));
    }
  });

  it('parses CIDRs and a-b ranges', () => {
    expect(parseRange('192.0.2.0/28', 'f')).to.deep.equal({ family: 'IPv4', first: 0xc0000200n, last: 0xc000020fn });
    const v6 = parseRange('2001:db8::/64', 'f');
    expect(v6.last - v6.first + 1n).to.equal(1n << 64n);
    expect(parseRange(' 198.51.100.10 - 198.51.100.20 ', 'f')).to.deep.include({ first: 0xc633640an, last: 0xc6336414n });
  });

  it('rejects malformed ranges naming them', () => {
    const cases: Array<[string, RegExp]> = [
      ['192.0.2.9-192.0.2.1', /"192.0.2.9-192.0.2.1": range start is after its end/],
      ['192.0.2.1-2001:db8::1', /different families/],
      ['192.0.2.0/33', /prefix length must be 0 to 32/],
      ['2001:db8::/129', /prefix length must be 0 to 128/],
      ['192.0.2.0/x', /prefix length/],
      ['192.0.2.5/30', /host bits are set/],
      ['192.0.2.0', /a single address needs a prefix length/],
    ];
    for (const [text, pattern] of cases) {
      expect(() => parseRange(text, 'spec.addresses[0]'))
        .to.throw(IpInputError, pattern)
        .with.property('message')
        .that.contains('spec.addresses[0]');
    }
  });

  it('counts and skips .0/.255 by arithmetic, agreeing with enumeration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 1500 }), (start, length) => {
        const first = BigInt(start);
        const last = first + BigInt(length) - 1n;
        let buggy = 0n;
        for (let value = first; value <= last; value++) if (isBuggyIPv4(value)) buggy++;
        expect(countBuggyIPv4(first, last)).to.equal(buggy);
        let next = first;
        while (isBuggyIPv4(next)) next++;
        expect(nextNonBuggyIPv4(first)).to.equal(next);
      }),
      { numRuns: 300 },
    );
  });
});

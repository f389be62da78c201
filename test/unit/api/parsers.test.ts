import { expect } from 'chai';
import fc from 'fast-check';
import {
  FAMILY_BITS,
  cidrToRange,
  formatIP,
  formatRange,
  ipLabelValue,
  isParseError,
  parseAddressRange,
  parseCIDR,
  parseCommunity,
  parseCommunityValue,
  parseDuration,
  parseIP,
  rangeSize,
  rangeToCidrs,
  rangesOverlap,
  type AddressRange,
  type IPFamily,
} from '../../../src/api/index.ts';

const family = fc.constantFrom<IPFamily>(4, 6);
const rangeOf = (ipFamily: IPFamily): fc.Arbitrary<AddressRange> => {
  const max = (1n << BigInt(FAMILY_BITS[ipFamily])) - 1n;
  return fc.tuple(fc.bigInt(0n, max), fc.bigInt(0n, 1n << 20n)).map(([first, width]) => ({
    family: ipFamily,
    first,
    last: first + width > max ? max : first + width,
  }));
};
const anyRange = family.chain(rangeOf);

describe('net: addresses, CIDRs and ranges', () => {
  it('parses both families and prints the canonical form back', () => {
    expect(parseIP('192.0.2.1')).to.deep.equal({ family: 4, value: 0xc0000201n });
    expect(parseIP('2001:db8::1')).to.deep.equal({ family: 6, value: (0x20010db8n << 96n) + 1n });
    expect(formatIP(6, 0x20010db8n << 96n)).to.equal('2001:db8::');
    for (const bad of ['192.0.2.256', '192.0.2', '192.0.2.1/32', 'fe80::1%eth0', ' 192.0.2.1', '', '2001:db8::g']) {
      expect(isParseError(parseIP(bad)), bad).to.equal(true);
    }
  });

  it('reads CIDRs and a-b ranges, with the reason when it cannot', () => {
    expect(parseAddressRange('192.0.2.0/28')).to.deep.equal({ family: 4, first: 0xc0000200n, last: 0xc000020fn });
    expect(parseAddressRange('192.0.2.10 - 192.0.2.20')).to.deep.equal({ family: 4, first: 0xc000020an, last: 0xc0000214n });
    expect(parseAddressRange('10.0.0.9-10.0.0.1')).to.deep.equal({ error: 'range start is after its end' });
    expect(parseAddressRange('192.0.2.1-2001:db8::1')).to.deep.equal({ error: 'range start and end are of different families' });
    expect(parseCIDR('192.0.2.1/24')).to.deep.equal({ error: 'host bits are set; the network is 192.0.2.0/24' });
    expect(parseCIDR('2001:db8::/129')).to.deep.equal({ error: 'prefix length must be 0 to 128 for IPv6' });
    expect(parseAddressRange('192.0.2.7')).to.deep.equal({ error: 'a single address needs a prefix length (192.0.2.7/32)' });
  });

  it('a range printed and parsed again is the same range', () => {
    fc.assert(fc.property(anyRange, (range) => {
      expect(parseAddressRange(formatRange(range))).to.deep.equal(range);
    }));
  });

  it('rangeToCidrs covers exactly the range with aligned, adjacent blocks', () => {
    fc.assert(fc.property(anyRange, (range) => {
      const cidrs = rangeToCidrs(range);
      let next = range.first;
      for (const cidr of cidrs) {
        const block = cidrToRange(cidr);
        expect(block.first).to.equal(next);
        expect(isParseError(parseCIDR(`${formatIP(cidr.family, cidr.network)}/${cidr.prefixLength}`))).to.equal(false);
        next = block.last + 1n;
      }
      expect(next - 1n).to.equal(range.last);
      expect(cidrs.reduce((total, cidr) => total + rangeSize(cidrToRange(cidr)), 0n)).to.equal(rangeSize(range));
    }));
    expect(rangeToCidrs({ family: 4, first: 0xc0000200n, last: 0xc00002ffn })).to.deep.equal([{ family: 4, network: 0xc0000200n, prefixLength: 24 }]);
  });

  it('ranges overlap exactly when they share an address of the same family', () => {
    fc.assert(fc.property(family.chain((f) => fc.tuple(rangeOf(f), rangeOf(f))), ([a, b]) => {
      const shared = a.first <= b.last && b.first <= a.last;
      expect(rangesOverlap(a, b)).to.equal(shared);
    }));
    expect(rangesOverlap({ family: 4, first: 1n, last: 5n }, { family: 6, first: 1n, last: 5n })).to.equal(false);
  });

  it('never throws on arbitrary text', () => {
    fc.assert(fc.property(fc.string(), (text) => {
      parseAddressRange(text);
      parseIP(text);
      parseCIDR(text);
    }));
  });
});

describe('parseDuration (Go syntax)', () => {
  it('reads the forms MetalLB and Kubernetes use', () => {
    expect(parseDuration('90s')).to.equal(90);
    expect(parseDuration('1m30s')).to.equal(90);
    expect(parseDuration('500ms')).to.equal(0.5);
    expect(parseDuration('1.5h')).to.equal(5400);
    expect(parseDuration('0')).to.equal(0);
    expect(parseDuration('2h45m0.5s')).to.equal(9900.5);
  });

  it('rejects numbers without units, unknown units and negatives', () => {
    for (const bad of ['90', '1d', 's', '', '1m 30s', '-5s', 'fast']) expect(isParseError(parseDuration(bad)), bad).to.equal(true);
  });

  it('sums its terms', () => {
    fc.assert(fc.property(fc.nat(1000), fc.nat(59), fc.nat(999), (minutes, seconds, millis) => {
      expect(parseDuration(`${minutes}m${seconds}s${millis}ms`)).to.be.closeTo(minutes * 60 + seconds + millis / 1000, 1e-9);
    }));
  });
});

describe('parseCommunity', () => {
  it('reads classic, large, well-known and alias forms', () => {
    expect(parseCommunity('65000:100')).to.deep.equal({ kind: 'classic', asn: 65000, local: 100, value: 65000 * 65536 + 100 });
    expect(parseCommunity('large:4200000000:1:2')).to.deep.equal({ kind: 'large', globalAdministrator: 4200000000, localData1: 1, localData2: 2 });
    expect(parseCommunity('no-export')).to.deep.equal({ kind: 'well-known', name: 'no-export', value: 0xffffff01 });
    expect(parseCommunity('rack-local')).to.deep.equal({ kind: 'alias', name: 'rack-local' });
  });

  it('rejects out-of-range parts and malformed text', () => {
    for (const bad of ['65536:1', '1:65536', 'large:1:2', 'large:1:2:4294967296', '1:2:3', 'a b', ':']) {
      expect(isParseError(parseCommunity(bad)), bad).to.equal(true);
    }
    expect(isParseError(parseCommunityValue('rack-local'))).to.equal(true);
  });

  it('round-trips every classic and large value', () => {
    fc.assert(fc.property(fc.nat(65535), fc.nat(65535), (asn, local) => {
      expect(parseCommunity(`${asn}:${local}`)).to.deep.include({ kind: 'classic', asn, local });
    }));
    fc.assert(fc.property(fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(0xffffffff), (a, b, c) => {
      expect(parseCommunity(`large:${a}:${b}:${c}`)).to.deep.equal({ kind: 'large', globalAdministrator: a, localData1: b, localData2: c });
    }));
  });
});

describe('ipLabelValue (anchorlb.io/ip on VIPStatus)', () => {
  const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

  it('writes IPv4 as is and IPv6 with dashes, never starting or ending with one', () => {
    expect(ipLabelValue('192.0.2.1')).to.equal('192.0.2.1');
    expect(ipLabelValue('2001:DB8:0::1')).to.equal('2001-db8--1');
    expect(ipLabelValue('::1')).to.equal('0--1');
    expect(ipLabelValue('2001:db8::')).to.equal('2001-db8--0');
    expect(ipLabelValue('not an ip')).to.equal(undefined);
  });

  it('is a valid label value that reads back as the same address', () => {
    fc.assert(fc.property(family.chain((f) => fc.bigInt(0n, (1n << BigInt(FAMILY_BITS[f])) - 1n).map((value) => ({ f, value }))), ({ f, value }) => {
      const label = ipLabelValue(formatIP(f, value)) ?? '';
      expect(label.length).to.be.at.most(63);
      expect(LABEL_VALUE.test(label), label).to.equal(true);
      expect(parseIP(f === 6 ? label.replaceAll('-', ':') : label)).to.deep.equal({ family: f, value });
    }));
  });
});

import { expect } from 'chai';
import {
  formatCommunity, formatLargeCommunity, formatPrefix, parseCommunity, parseLargeCommunity, parsePrefix, WellKnownCommunity,
} from '../../../../src/bgp/codec/index.ts';

describe('bgp codec: prefix and community text', () => {
  it('parses both families, a bare address as a host route, and prints canonical text', () => {
    expect(parsePrefix('192.0.2.1/32')).to.deep.equal({ family: 4, address: 0xc0000201n, length: 32 });
    expect(parsePrefix('192.0.2.7')).to.deep.equal({ family: 4, address: 0xc0000207n, length: 32 });
    expect(formatPrefix(parsePrefix('2001:DB8:0:0::/64'))).to.equal('2001:db8::/64');
    expect(formatPrefix(parsePrefix('2001:db8::1'))).to.equal('2001:db8::1/128');
    expect(formatPrefix(parsePrefix('0.0.0.0/0'))).to.equal('0.0.0.0/0');
  });

  it('rejects bad prefixes with an error naming the value', () => {
    expect(() => parsePrefix('192.0.2.1/24')).to.throw('prefix "192.0.2.1/24": bits are set past /24 (did you mean 192.0.2.0/24?)');
    expect(() => parsePrefix('192.0.2.0/33')).to.throw('prefix "192.0.2.0/33": length "33" is not 0..32');
    expect(() => parsePrefix('300.0.2.0/24')).to.throw('prefix "300.0.2.0/24": "300.0.2.0" is not an IPv4 or IPv6 address');
    expect(() => parsePrefix('fe80::1%eth0/128')).to.throw(/not an IPv4 or IPv6 address/);
    expect(() => parsePrefix('2001:db8::/1x')).to.throw(/length "1x" is not 0..128/);
  });

  it('communities: ASN:value, numbers and well-known names both ways', () => {
    expect(parseCommunity('65000:100')).to.equal(0xfde80064);
    expect(parseCommunity('no-export')).to.equal(WellKnownCommunity.NO_EXPORT);
    expect(parseCommunity('BLACKHOLE')).to.equal(0xffff029a);
    expect(parseCommunity('4294967041')).to.equal(0xffffff01);
    expect(formatCommunity(0xfde80064)).to.equal('65000:100');
    expect(formatCommunity(0xffffff02)).to.equal('NO_ADVERTISE');
    expect(() => parseCommunity('65536:1')).to.throw('community "65536:1" ASN: "65536" is not an integer in 0..65535');
    expect(() => parseCommunity('1:2:3')).to.throw(/expected ASN:value/);
  });

  it('large communities: global:local1:local2 both ways', () => {
    expect(parseLargeCommunity('4200000001:1:2')).to.deep.equal({ globalAdmin: 4200000001, localData1: 1, localData2: 2 });
    expect(formatLargeCommunity({ globalAdmin: 64512, localData1: 0, localData2: 4294967295 })).to.equal('64512:0:4294967295');
    expect(() => parseLargeCommunity('1:2')).to.throw(/expected global:local1:local2/);
    expect(() => parseLargeCommunity('1:2:4294967296')).to.throw(/part 3: "4294967296" is not an integer/);
  });
});

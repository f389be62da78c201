import { expect } from 'chai';
import { buildOpen, type Capability } from '../../../src/bgp/codec/index.ts';
import { defaultNextHops, negotiatedFamilies, sessionTtl } from '../../../src/bgp/session.ts';

const open = (capabilities: Capability[]) => buildOpen({ asn: 64512, holdTimeSec: 90, bgpIdentifier: '192.0.2.1', capabilities });

describe('BGP session helpers', () => {
  it('sends with TTL 1 to a single-hop eBGP peer, 255 to a multi-hop eBGP peer and to iBGP', () => {
    expect(sessionTtl({ localAsn: 65001, peerAsn: 64512 })).to.equal(1);
    expect(sessionTtl({ localAsn: 65001, peerAsn: 64512, ebgpMultiHop: false })).to.equal(1);
    expect(sessionTtl({ localAsn: 65001, peerAsn: 'external' })).to.equal(1);
    expect(sessionTtl({ localAsn: 65001, peerAsn: 64512, ebgpMultiHop: true })).to.equal(255);
    expect(sessionTtl({ localAsn: 65001, peerAsn: 'external', ebgpMultiHop: true })).to.equal(255);
    expect(sessionTtl({ localAsn: 65001, peerAsn: 65001 })).to.equal(255);
  });

  it('negotiates the families both sides offered', () => {
    const v4 = { kind: 'multiprotocol', afi: 1, safi: 1 } as const;
    const v6 = { kind: 'multiprotocol', afi: 2, safi: 1 } as const;
    expect(negotiatedFamilies(['ipv4', 'ipv6'], open([v4, v6]))).to.deep.equal(['ipv4', 'ipv6']);
    expect(negotiatedFamilies(['ipv4', 'ipv6'], open([v6]))).to.deep.equal(['ipv6']);
    expect(negotiatedFamilies(['ipv4'], open([v6]))).to.deep.equal([]);
    // no multiprotocol capability at all: IPv4 unicast only (RFC 4760 §8)
    expect(negotiatedFamilies(['ipv4', 'ipv6'], open([]))).to.deep.equal(['ipv4']);
  });

  it('uses the session address as next hop of its family and strips the IPv4-mapped form', () => {
    expect(defaultNextHops('::ffff:192.0.2.200').ipv4).to.equal('192.0.2.200');
    expect(defaultNextHops('2001:db8::200').ipv6).to.equal('2001:db8::200');
  });
});

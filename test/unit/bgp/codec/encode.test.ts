import { expect } from 'chai';
import {
  AS_TRANS, BgpEncodeError, buildOpen, encodeMessage, negotiateOptions, openAsn,
} from '../../../../src/bgp/codec/index.ts';
import type { BgpMessage, Capability, OpenMessage } from '../../../../src/bgp/codec/index.ts';
import { decodeOk, decodeUpdate, FOUR_OCTET, hex, TWO_OCTET } from './helpers.ts';

const OPEN_CAPABILITIES: Capability[] = [{ kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'extendedMessage' }];

function encodeFails(message: BgpMessage): string {
  try {
    encodeMessage(message, FOUR_OCTET);
  } catch (error) {
    expect(error).to.be.instanceOf(BgpEncodeError);
    return (error as Error).message;
  }
  return expect.fail('encoded without error');
}

describe('bgp codec: encoding', () => {
  it('buildOpen puts AS_TRANS in My AS for a 4-octet ASN and always sends the 4-octet AS capability', () => {
    const open = buildOpen({ asn: 4200000001, holdTimeSec: 90, bgpIdentifier: '192.0.2.11', capabilities: [...OPEN_CAPABILITIES, { kind: 'fourOctetAs', asn: 1 }] });
    expect(open.myAs).to.equal(AS_TRANS);
    expect(open.capabilities.filter((c) => c.kind === 'fourOctetAs')).to.deep.equal([{ kind: 'fourOctetAs', asn: 4200000001 }]);
    expect(openAsn(decodeOk(encodeMessage(open, FOUR_OCTET)).message as OpenMessage)).to.equal(4200000001);
    expect(buildOpen({ asn: 65001, holdTimeSec: 0, bgpIdentifier: '192.0.2.11', capabilities: [] }).myAs).to.equal(65001);
  });

  it('negotiateOptions: a capability counts only when both sides sent it; eBGP when the ASNs differ', () => {
    const ours = buildOpen({ asn: 65001, holdTimeSec: 90, bgpIdentifier: '192.0.2.11', capabilities: OPEN_CAPABILITIES });
    const modern = buildOpen({ asn: 65001, holdTimeSec: 90, bgpIdentifier: '192.0.2.1', capabilities: OPEN_CAPABILITIES });
    const old: OpenMessage = { type: 'open', version: 4, myAs: 64512, holdTimeSec: 90, bgpIdentifier: '192.0.2.1', capabilities: [] };
    expect(negotiateOptions(ours, modern)).to.deep.equal({ fourOctetAs: true, extendedMessages: true, ebgp: false });
    expect(negotiateOptions(ours, old)).to.deep.equal({ fourOctetAs: false, extendedMessages: false, ebgp: true });
  });

  it('writes AS_TRANS and AS4_PATH / AS4_AGGREGATOR for a 2-octet peer only when an ASN needs 4 octets', () => {
    const update: BgpMessage = {
      type: 'update', withdrawn: [], nlri: [{ family: 4, address: 0xc6336400n, length: 24 }],
      attributes: { origin: 0, asPath: [{ type: 'sequence', asns: [4200000001, 65002] }], nextHop: '192.0.2.11', aggregator: { asn: 4200000001, address: '192.0.2.11' } },
    };
    const bytes = encodeMessage(update, TWO_OCTET).toString('hex');
    expect(bytes).to.contain('40020602025ba0fdea'); // AS_PATH: sequence of 2, AS_TRANS 65002
    expect(bytes).to.contain('c0110a0202fa56ea010000fdea'); // AS4_PATH with the real ASNs
    expect(bytes).to.contain('c01208fa56ea01c000020b'); // AS4_AGGREGATOR
    expect(decodeUpdate(Buffer.from(bytes, 'hex'), TWO_OCTET)).to.deep.equal(update);
    const small = encodeMessage({ ...update, attributes: { origin: 0, asPath: [{ type: 'sequence', asns: [65001] }], nextHop: '192.0.2.11' } }, TWO_OCTET);
    expect(small.toString('hex')).not.to.contain('c011');
  });

  it('splits an AS_SEQUENCE longer than 255 into consecutive segments', () => {
    const asns = Array.from({ length: 300 }, (_, i) => 64512 + i);
    const update: BgpMessage = { type: 'update', withdrawn: [], nlri: [], attributes: { origin: 0, asPath: [{ type: 'sequence', asns }] } };
    expect(decodeUpdate(encodeMessage(update, FOUR_OCTET)).attributes.asPath).to.deep.equal([
      { type: 'sequence', asns: asns.slice(0, 255) }, { type: 'sequence', asns: asns.slice(255) },
    ]);
  });

  it('uses the extended length flag for attributes over 255 octets', () => {
    const communities = Array.from({ length: 100 }, (_, i) => i);
    const bytes = encodeMessage({ type: 'update', withdrawn: [], nlri: [], attributes: { communities } }, FOUR_OCTET);
    expect(bytes.subarray(23, 27).toString('hex')).to.equal('d0080190');
    expect(decodeUpdate(bytes).attributes.communities).to.deep.equal(communities);
  });

  it('refuses values that cannot go on the wire, naming the field and the value', () => {
    const open: OpenMessage = { type: 'open', version: 4, myAs: 65001, holdTimeSec: 90, bgpIdentifier: '192.0.2.11', capabilities: [] };
    expect(encodeFails({ ...open, holdTimeSec: 2 })).to.equal('open holdTimeSec: 2 (must be 0 or at least 3)');
    expect(encodeFails({ ...open, myAs: 70000 })).to.equal('open myAs: 70000 is not an integer in 0..65535');
    expect(encodeFails({ ...open, version: 3 })).to.equal('open version: 3, only 4 is supported');
    expect(encodeFails({ ...open, bgpIdentifier: '2001:db8::1' })).to.equal('open bgpIdentifier: "2001:db8::1" is not an IPv4 address');
    expect(encodeFails({ ...open, capabilities: [{ kind: 'fqdn', hostname: 'h'.repeat(256), domain: '' }] })).to.match(/^fqdn capability: hostname "h+" or domain "" exceeds 255 octets$/);
    const update = (attributes: object): BgpMessage => ({ type: 'update', withdrawn: [], nlri: [], attributes });
    expect(encodeFails(update({ nextHop: '192.0.2.300' }))).to.equal('nextHop: "192.0.2.300" is not an IPv4 or IPv6 address');
    expect(encodeFails(update({ med: -1 }))).to.equal('med: -1 is not an integer in 0..4294967295');
    expect(encodeFails(update({ origin: 3 }))).to.equal('origin: 3 is not an integer in 0..2');
    expect(encodeFails(update({ asPath: [{ type: 'sequence', asns: [] }] }))).to.equal('asPath sequence segment: empty');
    expect(encodeFails(update({ asPath: [{ type: 'set', asns: Array.from({ length: 256 }, () => 1) }] }))).to.equal('asPath set segment: 256 ASNs exceed 255');
    expect(encodeFails(update({ mpReach: { afi: 2, safi: 1, nextHops: ['192.0.2.1'], nlri: [] } }))).to.match(/^mpReach nextHops for AFI 2: \["192.0.2.1"\]/);
    expect(encodeFails(update({ mpReach: { afi: 3, safi: 1, nextHops: ['2001:db8::1'], nlri: [] } }))).to.match(/^mpReach afi: 3, only 1 \(IPv4\) and 2 \(IPv6\)/);
    expect(encodeFails(update({ extendedCommunities: [1n << 64n] }))).to.equal('extendedCommunities: 18446744073709551616 is not a 64-bit unsigned value');
    expect(encodeFails(update({ communities: Array.from({ length: 16384 }, () => 1) }))).to.equal('attribute 8: value of 65536 octets exceeds 65535');
    expect(encodeFails({ type: 'update', withdrawn: [{ family: 4, address: 1n, length: 8 }], nlri: [], attributes: {} })).to.match(/^update withdrawn: invalid prefix/);
    expect(encodeFails({ type: 'notification', code: 256, subcode: 0, data: hex('') })).to.equal('notification code: 256 is not an integer in 0..255');
    expect(encodeFails({ type: 'notification', code: 6, subcode: 0, data: Buffer.alloc(4096) })).to.equal('message type 3: 4117 octets exceed the 4096-octet limit');
    expect(encodeFails({ type: 'bogus' } as unknown as BgpMessage)).to.equal('message type: bogus is not one of open, update, notification, keepalive, routeRefresh');
  });
});

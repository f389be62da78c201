import { expect } from 'chai';
import {
  decodeMessage, encodeMessage, endOfRibFamily, formatCommunity, formatLargeCommunity, formatPrefix, openAsn,
} from '../../../../src/bgp/codec/index.ts';
import type { OpenMessage, UpdateMessage } from '../../../../src/bgp/codec/index.ts';
import { captured, frrNotifications } from './captured-messages.ts';
import { decodeFails, decodeOk, decodeUpdate, FOUR_OCTET, hex, TWO_OCTET } from './helpers.ts';

function open(text: string): OpenMessage {
  const { message } = decodeOk(hex(text), TWO_OCTET);
  if (message.type !== 'open') expect.fail(`expected an open, got ${message.type}`);
  return message;
}

const prefixes = (update: UpdateMessage): string[] => [...update.nlri, ...(update.attributes.mpReach?.nlri ?? [])].map(formatPrefix);

describe('bgp codec: messages captured from FRR, BIRD and gobgpd', () => {
  it('decodes every captured message without error or warning', () => {
    for (const [router, messages] of Object.entries(captured)) {
      const opts = router === 'frrTwoOctetPeer' ? TWO_OCTET : FOUR_OCTET;
      for (const text of messages) {
        const result = decodeMessage(hex(text), opts);
        expect(result.ok, `${router}: ${text}`).to.equal(true);
        if (result.ok) expect(result.warnings, `${router}: ${text}`).to.deep.equal([]);
      }
    }
  });

  it("reads FRR's OPEN: ASN, hold time, identifier, GR with R and N bits, hostname, both families", () => {
    const frr = open(captured.frrEbgp[0]);
    expect(openAsn(frr)).to.equal(64512);
    expect(frr.holdTimeSec).to.equal(9);
    expect(frr.bgpIdentifier).to.equal('192.0.2.1');
    expect(frr.capabilities).to.deep.include({ kind: 'fqdn', hostname: 'h5cap-router', domain: '' });
    expect(frr.capabilities).to.deep.include({
      kind: 'gracefulRestart', restartState: true, notification: true, restartTimeSec: 120,
      families: [{ afi: 1, safi: 1, forwardingPreserved: false }, { afi: 2, safi: 1, forwardingPreserved: false }],
    });
    expect(frr.capabilities).to.deep.include({ kind: 'multiprotocol', afi: 2, safi: 1 });
    expect(frr.capabilities).to.deep.include({ kind: 'extendedMessage' });
    expect(frr.capabilities).to.deep.include({ kind: 'enhancedRouteRefresh' });
    // Cisco's pre-standard route refresh (128) and ADD-PATH (69) are kept as received.
    expect(frr.capabilities).to.deep.include({ kind: 'unknown', code: 128, value: Buffer.alloc(0) });
  });

  it('reads a 4-octet ASN behind AS_TRANS in the OPEN', () => {
    const frr = open(captured.frrTwoOctetPeer[0]);
    expect(frr.myAs).to.equal(23456);
    expect(openAsn(frr)).to.equal(4200000000);
  });

  it("reads BIRD's and gobgpd's OPENs", () => {
    const bird = open(captured.birdEbgp[0]);
    expect(openAsn(bird)).to.equal(64513);
    expect(bird.holdTimeSec).to.equal(240);
    const gobgp = open(captured.gobgpEbgp[0]);
    expect(openAsn(gobgp)).to.equal(64514);
    expect(gobgp.capabilities).to.deep.include({ kind: 'fqdn', hostname: 'vm', domain: '' });
  });

  it("reads FRR's UPDATEs: communities, large and extended communities, MED, IPv6 global + link-local next hops", () => {
    const ipv4 = decodeUpdate(hex(captured.frrEbgp[9]));
    expect(prefixes(ipv4)).to.deep.equal(['198.51.100.0/24', '198.51.100.128/25']);
    expect(ipv4.attributes.nextHop).to.equal('192.0.2.1');
    expect(ipv4.attributes.med).to.equal(50);
    expect(ipv4.attributes.asPath).to.deep.equal([{ type: 'sequence', asns: [64512] }]);
    expect(ipv4.attributes.communities?.map(formatCommunity)).to.deep.equal(['64512:100', 'BLACKHOLE']);
    expect(ipv4.attributes.largeCommunities?.map(formatLargeCommunity)).to.deep.equal(['64512:1:2']);
    // Route target 64512:7: type 0x00, subtype 0x02, ASN, value.
    expect(ipv4.attributes.extendedCommunities).to.deep.equal([0x0002fc0000000007n]);
    const ipv6 = decodeUpdate(hex(captured.frrEbgp[10]));
    expect(prefixes(ipv6)).to.deep.equal(['2001:db8:100::/48']);
    expect(ipv6.attributes.mpReach?.nextHops).to.deep.equal(['2001:db8::1', 'fe80::78fb:d8ff:feb4:259b']);
  });

  it('recognises End-of-RIB for IPv4 and IPv6 and enhanced route refresh markers', () => {
    expect(endOfRibFamily(decodeUpdate(hex(captured.frrEbgp[3])))).to.deep.equal({ afi: 2, safi: 1 });
    expect(endOfRibFamily(decodeUpdate(hex(captured.frrEbgp[4])))).to.deep.equal({ afi: 1, safi: 1 });
    expect(endOfRibFamily(decodeUpdate(hex(captured.frrEbgp[2])))).to.equal(undefined);
    expect(decodeOk(hex(captured.frrEbgp[5])).message).to.deep.equal({ type: 'routeRefresh', afi: 1, safi: 1, subtype: 1 });
    expect(decodeOk(hex(captured.frrEbgp[7])).message).to.deep.equal({ type: 'routeRefresh', afi: 1, safi: 1, subtype: 2 });
  });

  it("merges FRR's AS4_PATH and AS4_AGGREGATOR for a 2-octet session", () => {
    const prepended = decodeUpdate(hex(captured.frrTwoOctetPeer[2]), TWO_OCTET);
    expect(prepended.attributes.asPath).to.deep.equal([{ type: 'sequence', asns: [4200000000, 4200000001, 65010] }]);
    const aggregate = decodeUpdate(hex(captured.frrTwoOctetPeer[3]), TWO_OCTET);
    expect(prefixes(aggregate)).to.deep.equal(['203.0.113.0/24']);
    expect(aggregate.attributes.atomicAggregate).to.equal(true);
    expect(aggregate.attributes.aggregator).to.deep.equal({ asn: 4200000000, address: '192.0.2.1' });
  });

  it("reads BIRD's and gobgpd's UPDATEs", () => {
    const birdV4 = decodeUpdate(hex(captured.birdEbgp[2]));
    expect(prefixes(birdV4)).to.deep.equal(['198.51.100.0/24', '203.0.113.7/32']);
    expect(birdV4.attributes.med).to.equal(7);
    expect(birdV4.attributes.communities?.map(formatCommunity)).to.deep.equal(['64513:42']);
    expect(birdV4.attributes.largeCommunities?.map(formatLargeCommunity)).to.deep.equal(['64513:3:4']);
    const birdV6 = decodeUpdate(hex(captured.birdEbgp[4]));
    expect(prefixes(birdV6)).to.deep.equal(['2001:db8:200::7/128', '2001:db8:200::/64']);
    expect(birdV6.attributes.communities?.map(formatCommunity)).to.deep.equal(['NO_EXPORT']);
    const gobgpV4 = decodeUpdate(hex(captured.gobgpEbgp[2]));
    expect(gobgpV4.attributes.origin).to.equal(2);
    expect(gobgpV4.attributes.largeCommunities?.map(formatLargeCommunity)).to.deep.equal(['64514:6:7']);
    const gobgpV6 = decodeUpdate(hex(captured.gobgpEbgp[3]));
    expect(prefixes(gobgpV6)).to.deep.equal(['2001:db8:300::/56']);
    expect(gobgpV6.attributes.mpReach?.nextHops).to.deep.equal(['2001:db8::1']);
  });

  it('re-encodes every captured message to bytes that decode to the same message', () => {
    for (const [router, messages] of Object.entries(captured)) {
      const opts = router === 'frrTwoOctetPeer' ? TWO_OCTET : FOUR_OCTET;
      for (const text of messages) {
        const { message } = decodeOk(hex(text), opts);
        expect(decodeOk(encodeMessage(message, opts), opts).message, `${router}: ${text}`).to.deep.equal(message);
      }
    }
  });

  it('re-encodes captured messages byte for byte where the router used the canonical layout', () => {
    // gobgpd and BIRD order attributes by type code with minimal length fields, as we do.
    for (const text of [captured.gobgpEbgp[2], captured.birdEbgp[2], captured.frrEbgp[1], captured.frrEbgp[4]]) {
      expect(encodeMessage(decodeOk(hex(text)).message, FOUR_OCTET).toString('hex')).to.equal(text);
    }
  });
});

describe('bgp codec: errors agree with the NOTIFICATIONs FRR sends for the same malformed bytes', () => {
  /** Where FRR 8.4 departs from the RFCs, we follow the RFC; data FRR adds where the RFC prescribes none is not compared. */
  const RFC_OVER_FRR: Record<string, [number, number]> = {
    unrecognizedWellKnown: [3, 2], // RFC 4271 §6.3: Unrecognized Well-known Attribute (FRR: Malformed Attribute List)
    routeRefreshLength24: [7, 1], // RFC 7313 §5: ROUTE-REFRESH Message Error (FRR: Cease)
    openUnsupportedParameter: [2, 4], // RFC 4271 §6.2: Unsupported Optional Parameter (FRR: deprecated Authentication Failure)
  };
  const DATA_PRESCRIBED = new Set(['badMarker', 'keepaliveLength20', 'messageType9', 'lengthTooLong', 'openVersion5']);

  for (const [name, { sent, frr }] of Object.entries(frrNotifications)) {
    it(name, () => {
      const error = decodeFails(hex(sent), name.startsWith('open') ? TWO_OCTET : FOUR_OCTET);
      expect([error.code, error.subcode]).to.deep.equal(RFC_OVER_FRR[name] ?? [frr[0], frr[1]]);
      if (DATA_PRESCRIBED.has(name)) expect(error.data.toString('hex')).to.equal(frr[2]);
    });
  }
});

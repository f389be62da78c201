import { expect } from 'chai';
import fc from 'fast-check';
import {
  buildUpdates, buildWithdraws, decodeMessage, encodeMessage, endOfRib, endOfRibFamily, formatPrefix, parsePrefix,
} from '../../../../src/bgp/codec/index.ts';
import type { AnnouncementGroup, CodecOptions, Prefix, UpdateMessage } from '../../../../src/bgp/codec/index.ts';
import { prefix } from './arbitraries.ts';
import { decodeUpdate, FOUR_OCTET } from './helpers.ts';

const IBGP: CodecOptions = { ...FOUR_OCTET, ebgp: false };
const ATTRIBUTES = {
  origin: 0 as const,
  asPath: [{ type: 'sequence' as const, asns: [4200000001] }],
  nextHop: '192.0.2.11',
  localPref: 200,
  communities: [0xfde90064],
  largeCommunities: [{ globalAdmin: 4200000001, localData1: 1, localData2: 2 }],
};

function hosts(family: 4 | 6, count: number): Prefix[] {
  const base = family === 4 ? parsePrefix('198.51.100.0/24').address << 0n : parsePrefix('2001:db8:1::/48').address;
  return Array.from({ length: count }, (_, i) => ({ family, address: base + BigInt(i), length: family === 4 ? 32 : 128 }));
}

/** Every prefix the UPDATEs announce (in-line and MP_REACH), and the attributes of each UPDATE. */
function announced(messages: Buffer[], opts: CodecOptions): { prefixes: string[]; updates: UpdateMessage[] } {
  const updates = messages.map((m) => decodeUpdate(m, opts));
  return { updates, prefixes: updates.flatMap((u) => [...u.nlri, ...(u.attributes.mpReach?.nlri ?? [])]).map(formatPrefix) };
}

describe('bgp codec: UPDATE packing', () => {
  it('packs 100,000 IPv4 /32 into the fewest 4096-octet UPDATEs, every prefix once, attributes intact', () => {
    const prefixes = hosts(4, 100_000);
    const messages = buildUpdates({ attributes: ATTRIBUTES, prefixes }, IBGP);
    const attributesLength = messages[0]!.readUInt16BE(21);
    const perMessage = Math.floor((4096 - 23 - attributesLength) / 5);
    expect(messages).to.have.length(Math.ceil(100_000 / perMessage));
    expect(messages.every((m) => m.length <= 4096)).to.equal(true);
    const { prefixes: seen, updates } = announced(messages, IBGP);
    expect(new Set(seen).size).to.equal(100_000);
    expect(seen.sort()).to.deep.equal(prefixes.map(formatPrefix).sort());
    for (const update of updates) expect(update.attributes).to.deep.equal(ATTRIBUTES);
  });

  it('packs IPv6 into MP_REACH_NLRI with the given next hops, without NEXT_HOP', () => {
    const prefixes = hosts(6, 5_000);
    const messages = buildUpdates({ attributes: ATTRIBUTES, ipv6NextHops: ['2001:db8::11', 'fe80::1'], prefixes }, IBGP);
    const { prefixes: seen, updates } = announced(messages, IBGP);
    expect(seen.sort()).to.deep.equal(prefixes.map(formatPrefix).sort());
    const perMessage = updates[0]!.attributes.mpReach!.nlri.length;
    expect(messages).to.have.length(Math.ceil(5_000 / perMessage));
    expect(messages.slice(0, -1).every((m) => m.length > 4096 - 17)).to.equal(true);
    const { mpReach, ...rest } = updates[0]!.attributes;
    expect(mpReach).to.include({ afi: 2, safi: 1 });
    expect(mpReach!.nextHops).to.deep.equal(['2001:db8::11', 'fe80::1']);
    const { nextHop: _none, ...withoutNextHop } = ATTRIBUTES;
    expect(rest).to.deep.equal(withoutNextHop);
  });

  it('uses up to 65535 octets per UPDATE once extended messages are negotiated', () => {
    const opts = { ...IBGP, extendedMessages: true };
    const messages = buildUpdates({ attributes: ATTRIBUTES, prefixes: hosts(4, 20_000) }, opts);
    expect(messages).to.have.length(2);
    expect(messages[0]!.length).to.be.within(65535 - 4, 65535);
  });

  it('mixed lengths and families: all announced, and no UPDATE but the last could have taken one more prefix', () => {
    fc.assert(fc.property(fc.array(fc.oneof(prefix(4), prefix(6)), { maxLength: 3000 }), (prefixes) => {
      const group: AnnouncementGroup = { attributes: ATTRIBUTES, ipv6NextHops: ['2001:db8::11'], prefixes };
      const messages = buildUpdates(group, IBGP);
      const { prefixes: seen, updates } = announced(messages, IBGP);
      expect(seen.sort()).to.deep.equal(prefixes.map(formatPrefix).sort());
      for (const family of [4, 6]) {
        const sizes = updates.map((u, i) => ({ u, length: messages[i]!.length }))
          .filter(({ u }) => (family === 4 ? u.nlri.length > 0 : u.attributes.mpReach !== undefined));
        const smallest = Math.min(...prefixes.filter((p) => p.family === family).map((p) => 1 + Math.ceil(p.length / 8)));
        for (const { length } of sizes.slice(0, -1)) expect(4096 - length).to.be.below(smallest);
      }
    }), { numRuns: 40 });
  });

  it('withdraws IPv4 in Withdrawn Routes and IPv6 in MP_UNREACH_NLRI, in the fewest UPDATEs', () => {
    const prefixes = [...hosts(4, 2_000), ...hosts(6, 1_000)];
    const messages = buildWithdraws(prefixes, FOUR_OCTET);
    const updates = messages.map((m) => decodeUpdate(m));
    const withdrawn = updates.flatMap((u) => [...u.withdrawn, ...(u.attributes.mpUnreach?.withdrawn ?? [])]).map(formatPrefix);
    expect(withdrawn.sort()).to.deep.equal(prefixes.map(formatPrefix).sort());
    expect(updates.filter((u) => u.withdrawn.length > 0)).to.have.length(Math.ceil(2_000 / Math.floor((4096 - 23) / 5)));
    expect(updates.filter((u) => u.attributes.mpUnreach)).to.have.length(Math.ceil(1_000 / Math.floor((4096 - 30) / 17)));
    expect(updates.every((u) => u.nlri.length === 0 && Object.keys(u.attributes).length <= 1)).to.equal(true);
  });

  it('nothing to announce or withdraw means no UPDATE', () => {
    expect(buildUpdates({ attributes: ATTRIBUTES, prefixes: [] }, FOUR_OCTET)).to.deep.equal([]);
    expect(buildWithdraws([], FOUR_OCTET)).to.deep.equal([]);
  });

  it('refuses with a clear error: IPv4 without nextHop, IPv6 without next hops, host bits set, attributes too large', () => {
    const { nextHop: _unused, ...withoutNextHop } = ATTRIBUTES;
    expect(() => buildUpdates({ attributes: withoutNextHop, prefixes: hosts(4, 1) }, FOUR_OCTET)).to.throw(/IPv4 prefixes need attributes.nextHop/);
    expect(() => buildUpdates({ attributes: ATTRIBUTES, prefixes: hosts(6, 1) }, FOUR_OCTET)).to.throw(/IPv6 prefixes need ipv6NextHops/);
    expect(() => buildUpdates({ attributes: ATTRIBUTES, prefixes: [{ family: 4, address: 1n, length: 24 }] }, FOUR_OCTET)).to.throw(/announce prefixes\[0\]: invalid prefix/);
    const huge = { ...ATTRIBUTES, communities: Array.from({ length: 1100 }, (_, i) => i) };
    expect(() => buildUpdates({ attributes: huge, prefixes: hosts(4, 1) }, FOUR_OCTET)).to.throw(/leave -?\d+ octets for prefixes/);
  });

  it('End-of-RIB: an empty UPDATE for IPv4 unicast, an empty MP_UNREACH_NLRI otherwise', () => {
    expect(encodeMessage(endOfRib(1, 1), FOUR_OCTET).toString('hex')).to.equal(`${'ff'.repeat(16)}00170200000000`);
    expect(encodeMessage(endOfRib(2, 1), FOUR_OCTET).toString('hex')).to.equal(`${'ff'.repeat(16)}001d0200000006800f03000201`);
    for (const [afi, safi] of [[1, 1], [2, 1], [1, 2], [25, 70]] as const) {
      const result = decodeMessage(encodeMessage(endOfRib(afi, safi), FOUR_OCTET), FOUR_OCTET);
      expect(result.ok && result.message.type === 'update' && endOfRibFamily(result.message)).to.deep.equal({ afi, safi });
    }
  });
});

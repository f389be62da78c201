import fc from 'fast-check';
import { formatAddress } from '../../../../src/bgp/codec/index.ts';
import type {
  AsPathSegment, BgpMessage, Capability, PathAttributes, Prefix, UnknownAttribute, UpdateMessage,
} from '../../../../src/bgp/codec/index.ts';

const KNOWN_CAPABILITIES = new Set([1, 2, 6, 64, 65, 70, 73]);
const KNOWN_ATTRIBUTES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32]);

export const uint8 = fc.integer({ min: 0, max: 0xff });
export const uint16 = fc.integer({ min: 0, max: 0xffff });
export const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

export function prefix(family: 4 | 6): fc.Arbitrary<Prefix> {
  const bits = family === 4 ? 32 : 128;
  return fc.tuple(fc.integer({ min: 0, max: bits }), fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }))
    .map(([length, value]) => ({ family, length, address: (value >> BigInt(bits - length)) << BigInt(bits - length) }));
}

export const ipv4 = uint32.map((value) => formatAddress(4, BigInt(value)));
export const ipv6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((value) => formatAddress(6, value));
const hostname = fc.stringMatching(/^[a-z0-9.-]{0,40}$/);

export const capability: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({ kind: fc.constant('multiprotocol' as const), afi: uint16, safi: uint8 }),
  fc.constant({ kind: 'routeRefresh' as const }),
  fc.constant({ kind: 'enhancedRouteRefresh' as const }),
  fc.constant({ kind: 'extendedMessage' as const }),
  fc.record({ kind: fc.constant('fourOctetAs' as const), asn: uint32 }),
  fc.record({
    kind: fc.constant('gracefulRestart' as const),
    restartState: fc.boolean(),
    notification: fc.boolean(),
    restartTimeSec: fc.integer({ min: 0, max: 4095 }),
    families: fc.array(fc.record({ afi: uint16, safi: uint8, forwardingPreserved: fc.boolean() }), { maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('fqdn' as const), hostname, domain: hostname }),
  fc.record({ kind: fc.constant('unknown' as const), code: uint8.filter((c) => !KNOWN_CAPABILITIES.has(c)), value: bytes(16) }),
);

export const openMessage = fc.record({
  type: fc.constant('open' as const),
  version: fc.constant(4),
  myAs: uint16,
  holdTimeSec: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 0xffff })),
  bgpIdentifier: fc.integer({ min: 1, max: 0xffffffff }).map((v) => formatAddress(4, BigInt(v))),
  // Up to 40 capabilities: enough to need several parameters and RFC 9072 lengths.
  capabilities: fc.array(capability, { maxLength: 40 }),
});

/** AS paths that survive a 2-octet session: confederation segments (leading, 2-octet ASNs) then sets and sequences. */
function asPath(fourOctet: boolean): fc.Arbitrary<AsPathSegment[]> {
  const asn = fourOctet ? uint32 : fc.oneof(uint16, uint32);
  const segment = (type: AsPathSegment['type'], value: fc.Arbitrary<number>): fc.Arbitrary<AsPathSegment> =>
    fc.array(value, { minLength: 1, maxLength: 12 }).map((asns) => ({ type, asns }));
  const confed = fc.oneof(segment('confedSequence', fourOctet ? uint32 : uint16), segment('confedSet', fourOctet ? uint32 : uint16));
  const plain = fc.oneof(segment('sequence', asn), segment('set', asn));
  return fc.tuple(fc.array(confed, { maxLength: 2 }), fc.array(plain, { maxLength: 4 })).map(([a, b]) => [...a, ...b]);
}

const unknownAttributes: fc.Arbitrary<UnknownAttribute[]> = fc.uniqueArray(
  fc.record({
    // Optional (0x80) is required: an unrecognized well-known attribute is an error. Extended length is the encoder's call.
    flags: fc.integer({ min: 0, max: 0xff }).map((f) => (f | 0x80) & ~0x10),
    typeCode: uint8.filter((t) => !KNOWN_ATTRIBUTES.has(t)),
    value: bytes(300),
  }),
  { selector: (a) => a.typeCode, maxLength: 3 },
).map((list) => list.sort((a, b) => a.typeCode - b.typeCode));

function mpFamily(): fc.Arbitrary<{ afi: number; safi: number; family: 4 | 6 }> {
  return fc.record({ afi: fc.constantFrom(1, 2), safi: fc.constantFrom(1, 2) }).map((f) => ({ ...f, family: f.afi === 1 ? 4 : 6 }));
}

export function pathAttributes(fourOctet: boolean): fc.Arbitrary<PathAttributes> {
  const list = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(arb, { minLength: 1, maxLength: 6 });
  return fc.record({
    origin: fc.constantFrom(0 as const, 1 as const, 2 as const),
    asPath: asPath(fourOctet),
    nextHop: ipv4,
    med: uint32,
    localPref: uint32,
    atomicAggregate: fc.constant(true),
    aggregator: fc.record({ asn: uint32, address: ipv4 }),
    communities: list(uint32),
    originatorId: ipv4,
    clusterList: list(ipv4),
    mpReach: mpFamily().chain(({ afi, safi, family }) => fc.record({
      afi: fc.constant(afi),
      safi: fc.constant(safi),
      nextHops: family === 4 ? fc.oneof(ipv4.map((a) => [a]), fc.array(ipv6, { minLength: 1, maxLength: 2 })) : fc.array(ipv6, { minLength: 1, maxLength: 2 }),
      nlri: fc.array(prefix(family), { maxLength: 20 }),
    })),
    mpUnreach: mpFamily().chain(({ afi, safi, family }) => fc.record({ afi: fc.constant(afi), safi: fc.constant(safi), withdrawn: fc.array(prefix(family), { maxLength: 20 }) })),
    extendedCommunities: list(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
    largeCommunities: list(fc.record({ globalAdmin: uint32, localData1: uint32, localData2: uint32 })),
    unknown: unknownAttributes.filter((l) => l.length > 0),
  }, { requiredKeys: [] });
}

/** UPDATEs that decode without RFC 7606 findings: an UPDATE that announces carries ORIGIN, AS_PATH and (for NLRI) NEXT_HOP. */
export function updateMessage(fourOctet: boolean): fc.Arbitrary<UpdateMessage> {
  return fc.record({
    withdrawn: fc.array(prefix(4), { maxLength: 30 }),
    attributes: pathAttributes(fourOctet),
    nlri: fc.array(prefix(4), { maxLength: 30 }),
  }).map(({ withdrawn, attributes, nlri }) => {
    const announces = nlri.length > 0 || (attributes.mpReach?.nlri.length ?? 0) > 0;
    const complete: PathAttributes = announces
      ? { origin: 0, asPath: [], ...attributes, ...(nlri.length > 0 && !attributes.nextHop ? { nextHop: '192.0.2.1' } : {}) }
      : attributes;
    return { type: 'update' as const, withdrawn, attributes: complete, nlri };
  });
}

export const notificationMessage = fc.record({ type: fc.constant('notification' as const), code: uint8, subcode: uint8, data: bytes(64) });
export const keepaliveMessage = fc.constant({ type: 'keepalive' as const });
export const routeRefreshMessage = fc.record({ type: fc.constant('routeRefresh' as const), afi: uint16, safi: uint8, subtype: uint8 });

export function anyMessage(fourOctet: boolean): fc.Arbitrary<BgpMessage> {
  return fc.oneof(openMessage, updateMessage(fourOctet), notificationMessage, keepaliveMessage, routeRefreshMessage);
}

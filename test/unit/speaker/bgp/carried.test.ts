import { expect } from 'chai';
import fc from 'fast-check';
import { aggregatePrefix } from '../../../../src/speaker/bgp/desired.ts';
import { peersCarrying, type CarriedRoutes } from '../../../../src/speaker/bgp/carried.ts';

/** The definition: a peer carries an IP when one of its prefixes is the IP's network at that prefix's length. */
function byDefinition(ips: readonly string[], carried: readonly CarriedRoutes[]): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const ip of ips) {
    const peers = carried
      .filter(({ prefixes }) => [...prefixes].some((prefix) => {
        const length = Number(prefix.split('/')[1]);
        return aggregatePrefix(ip, { aggregationLength: length, aggregationLengthV6: length }) === prefix;
      }))
      .map(({ peer }) => peer);
    if (peers.length > 0) result.set(ip, peers);
  }
  return result;
}

describe('speaker/bgp/carried: which peers carry each Service IP (pure)', () => {
  it('host routes and aggregates of both families, per peer, in peer order; IPs nobody carries are left out', () => {
    const carried: CarriedRoutes[] = [
      { peer: 'tor-a', prefixes: ['192.0.2.10/32', '2001:db8::/64'] },
      { peer: 'tor-b', prefixes: new Set(['192.0.2.0/24', '192.0.2.10/32']) },
      { peer: 'idle', prefixes: [] },
    ];
    const result = peersCarrying(['192.0.2.10', '192.0.2.99', '198.51.100.1', '2001:db8::5', '2001:db8:1::5', 'not-an-ip'], carried);
    expect([...result]).to.have.deep.members([
      ['192.0.2.10', ['tor-a', 'tor-b']],
      ['192.0.2.99', ['tor-b']],
      ['2001:db8::5', ['tor-a']],
    ]);
  });

  it('nothing carried (no Established session): empty', () => {
    expect(peersCarrying(['192.0.2.10'], []).size).to.equal(0);
    expect(peersCarrying(['192.0.2.10'], [{ peer: 'p', prefixes: [] }]).size).to.equal(0);
  });

  it('property: the same answer as testing every IP against every prefix', () => {
    const v4 = fc.tuple(fc.constantFrom('192.0.2', '198.51.100', '203.0.113'), fc.integer({ min: 0, max: 255 })).map(([net, host]) => `${net}.${host}`);
    const v6 = fc.integer({ min: 0, max: 300 }).map((n) => `2001:db8:${(n % 3).toString(16)}::${n.toString(16)}`);
    const ip = fc.oneof(v4, v6);
    const prefix = fc.tuple(ip, fc.constantFrom(16, 24, 28, 32, 48, 64, 120, 128)).map(([address, length]) => aggregatePrefix(address, { aggregationLength: Math.min(length, 32), aggregationLengthV6: length }) as string);
    const routes = fc.array(fc.record({ peer: fc.string({ minLength: 1, maxLength: 4 }), prefixes: fc.array(prefix, { maxLength: 8 }) }), { maxLength: 4 });
    fc.assert(
      fc.property(fc.uniqueArray(ip, { maxLength: 30 }), routes, (ips, carried) => {
        const unique = carried.filter((route, index) => carried.findIndex((other) => other.peer === route.peer) === index);
        expect([...peersCarrying(ips, unique)]).to.deep.equal([...byDefinition(ips, unique)]);
      }),
    );
  });
});

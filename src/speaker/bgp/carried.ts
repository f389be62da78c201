/**
 * Which BGP peers carry each Service IP, for VIPStatus: a host route or an aggregate
 * (192.0.2.0/24) covering the IP on an Established session. Pure and linear: the carried
 * prefixes are parsed once into an index by network, each IP is parsed once and looked up at
 * the few prefix lengths in use, instead of a string round trip per (IP, prefix) pair.
 */
import { isIP } from 'node:net';
import { parseIp } from 'ip-bigint';
import { FAMILY_BITS, type IPFamily } from '../../api/net.ts';

export interface CarriedRoutes {
  peer: string;
  /** Prefixes the session carries, e.g. 192.0.2.10/32 or 2001:db8::/64. */
  prefixes: Iterable<string>;
}

/** A plain address as a number (ip-bigint: several times faster than the API's validating parser, for 10,000s a pass). */
function parseAddress(text: string): { family: IPFamily; value: bigint } | undefined {
  const family = isIP(text);
  return family === 4 || family === 6 ? { family, value: parseIp(text).number } : undefined;
}

/** `address/length`, host bits cleared. */
function parsePrefix(text: string): { family: IPFamily; length: number; network: bigint } | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? undefined : parseAddress(text.slice(0, slash));
  const length = Number(text.slice(slash + 1));
  if (!address || !Number.isInteger(length) || length < 0 || length > FAMILY_BITS[address.family]) return undefined;
  return { family: address.family, length, network: networkOf(address.value, address.family, length) };
}

function networkOf(value: bigint, family: IPFamily, length: number): bigint {
  const hostBits = BigInt(FAMILY_BITS[family] - length);
  return (value >> hostBits) << hostBits;
}

function keyOf(family: IPFamily, length: number, network: bigint): string {
  return `${family}/${length}/${network.toString(16)}`;
}

/** IP → the peers (in the order of `carried`) whose sessions carry a prefix covering it; IPs no session carries are left out. */
export function peersCarrying(ips: Iterable<string>, carried: readonly CarriedRoutes[]): Map<string, string[]> {
  const peersOf = new Map<string, Set<number>>();
  const lengths: Record<IPFamily, Set<number>> = { 4: new Set(), 6: new Set() };
  carried.forEach(({ prefixes }, index) => {
    for (const prefix of prefixes) {
      const parsed = parsePrefix(prefix);
      if (!parsed) continue; // the announcer only carries prefixes it formatted itself
      lengths[parsed.family].add(parsed.length);
      const key = keyOf(parsed.family, parsed.length, parsed.network);
      peersOf.set(key, (peersOf.get(key) ?? new Set()).add(index));
    }
  });
  const result = new Map<string, string[]>();
  if (peersOf.size === 0) return result;
  for (const ip of ips) {
    const parsed = parseAddress(ip);
    if (!parsed) continue;
    const found = new Set<number>();
    for (const length of lengths[parsed.family]) {
      for (const index of peersOf.get(keyOf(parsed.family, length, networkOf(parsed.value, parsed.family, length))) ?? []) found.add(index);
    }
    if (found.size > 0) result.set(ip, [...found].sort((a, b) => a - b).map((index) => carried[index]?.peer ?? ''));
  }
  return result;
}

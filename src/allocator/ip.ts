/**
 * IP text <-> bigint for the allocator: addresses, CIDRs and `a-b` ranges.
 * Validation goes through ip-address (strict), arithmetic and formatting through
 * ip-bigint (fast). Kept in this one module so it can be merged with the API's
 * own range parser once that exists.
 */
import { Address4, Address6 } from 'ip-address';
import { parseIp as parseIpBigint, stringifyIp } from 'ip-bigint';

/** Kubernetes' names for the two families (`spec.ipFamilies`). */
export type Family = 'IPv4' | 'IPv6';
export const FAMILIES: readonly Family[] = ['IPv4', 'IPv6'];

export interface Address {
  family: Family;
  value: bigint;
}

/** An inclusive range of one family. */
export interface IpRange {
  family: Family;
  first: bigint;
  last: bigint;
}

/** Bad input from a pool or a Service; the message names the field and the value. */
export class IpInputError extends Error {
  override name = 'IpInputError';
}

const BITS: Record<Family, number> = { IPv4: 32, IPv6: 128 };

/** Parses one plain address (no prefix, no zone); throws IpInputError naming `field`. */
export function parseAddress(text: string, field: string): Address {
  const trimmed = text.trim();
  if (trimmed.includes('%') || trimmed.includes('/')) {
    throw new IpInputError(`${field}: ${JSON.stringify(text)} is not a plain IP address`);
  }
  if (Address4.isValid(trimmed)) return { family: 'IPv4', value: parseIpBigint(trimmed).number };
  if (Address6.isValid(trimmed)) return { family: 'IPv6', value: parseIpBigint(trimmed).number };
  throw new IpInputError(`${field}: ${JSON.stringify(text)} is not a valid IP address`);
}

export function formatAddress(family: Family, value: bigint): string {
  return stringifyIp({ number: value, version: family === 'IPv4' ? 4 : 6 });
}

/**
 * Parses a pool entry: a CIDR (`192.0.2.0/28`; host bits are masked as MetalLB does)
 * or a range `a-b` of one family with a <= b.
 */
export function parseRange(text: string, field: string): IpRange {
  const trimmed = text.trim();
  const dash = trimmed.indexOf('-');
  if (dash >= 0) {
    const first = parseAddress(trimmed.slice(0, dash), field);
    const last = parseAddress(trimmed.slice(dash + 1), field);
    if (first.family !== last.family) {
      throw new IpInputError(`${field}: range ${JSON.stringify(text)} mixes IPv4 and IPv6`);
    }
    if (first.value > last.value) {
      throw new IpInputError(`${field}: range ${JSON.stringify(text)} ends before it starts`);
    }
    return { family: first.family, first: first.value, last: last.value };
  }
  const slash = trimmed.indexOf('/');
  if (slash < 0) {
    throw new IpInputError(`${field}: ${JSON.stringify(text)} is neither a CIDR nor an a-b range`);
  }
  const base = parseAddress(trimmed.slice(0, slash), field);
  const lengthText = trimmed.slice(slash + 1);
  const length = Number(lengthText);
  if (!/^\d{1,3}$/.test(lengthText) || length > BITS[base.family]) {
    throw new IpInputError(`${field}: prefix length in ${JSON.stringify(text)} must be 0-${BITS[base.family]}`);
  }
  const hostBits = BigInt(BITS[base.family] - length);
  const first = (base.value >> hostBits) << hostBits;
  return { family: base.family, first, last: first + (1n << hostBits) - 1n };
}

export function formatRange(range: IpRange): string {
  return `${formatAddress(range.family, range.first)}-${formatAddress(range.family, range.last)}`;
}

/** IPv4 addresses ending in .0 or .255 confuse some CPE firmwares (MetalLB's avoidBuggyIPs). */
export function isBuggyIPv4(value: bigint): boolean {
  const low = value & 255n;
  return low === 0n || low === 255n;
}

/** The lowest address >= value that is not .0/.255, found by arithmetic. */
export function nextNonBuggyIPv4(value: bigint): bigint {
  const low = value & 255n;
  if (low === 255n) return value + 2n;
  if (low === 0n) return value + 1n;
  return value;
}

function floorDiv(numerator: bigint, divisor: bigint): bigint {
  const quotient = numerator / divisor;
  return quotient * divisor > numerator ? quotient - 1n : quotient;
}

/** How many addresses in [first, last] are .0 or .255, without enumerating them. */
export function countBuggyIPv4(first: bigint, last: bigint): bigint {
  if (first > last) return 0n;
  const endingIn = (low: bigint): bigint => floorDiv(last - low, 256n) - floorDiv(first - 1n - low, 256n);
  return endingIn(0n) + endingIn(255n);
}

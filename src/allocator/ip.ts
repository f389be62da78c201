/**
 * The allocator's view of addresses: Kubernetes family names, errors that name
 * the field and the value. Parsing and validation are the API's (src/api/net.ts);
 * formatting on the hot path goes through ip-bigint, several times faster.
 */
import { stringifyIp } from 'ip-bigint';
import { formatRange as formatNetRange, isParseError, parseAddressRange, parseIP, type IPFamily } from '../api/net.ts';

/** Kubernetes' names for the two families (`spec.ipFamilies`). */
export type Family = 'IPv4' | 'IPv6';

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

const FAMILY_OF: Record<IPFamily, Family> = { 4: 'IPv4', 6: 'IPv6' };

/** Parses one plain address (no prefix, no zone; spaces around it are ignored); throws IpInputError naming `field`. */
export function parseAddress(text: string, field: string): Address {
  const parsed = parseIP(text.trim());
  if (isParseError(parsed)) throw new IpInputError(`${field}: ${JSON.stringify(text)} is ${parsed.error}`);
  return { family: FAMILY_OF[parsed.family], value: parsed.value };
}

export function formatAddress(family: Family, value: bigint): string {
  return stringifyIp({ number: value, version: family === 'IPv4' ? 4 : 6 });
}

/** Parses a pool entry, a CIDR or an `a-b` range; throws IpInputError naming `field`. */
export function parseRange(text: string, field: string): IpRange {
  const parsed = parseAddressRange(text);
  if (isParseError(parsed)) throw new IpInputError(`${field}: ${JSON.stringify(text)}: ${parsed.error}`);
  return { family: FAMILY_OF[parsed.family], first: parsed.first, last: parsed.last };
}

export function formatRange(range: IpRange): string {
  return formatNetRange({ family: range.family === 'IPv4' ? 4 : 6, first: range.first, last: range.last });
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

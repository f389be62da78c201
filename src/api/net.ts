/**
 * IP address, CIDR and range maths: `ip-address` parses and validates, values are
 * bigints so IPv4 and IPv6 share one code path. Pure; no Kubernetes types.
 */
import { Address4, Address6 } from 'ip-address';

export type IPFamily = 4 | 6;

/** Returned instead of a value when text does not parse; the message names the rule broken. */
export interface ParseError {
  error: string;
}

export interface IPValue {
  family: IPFamily;
  value: bigint;
}

export interface Cidr {
  family: IPFamily;
  /** The first address of the network. */
  network: bigint;
  prefixLength: number;
}

/** An inclusive range of addresses of one family. */
export interface AddressRange {
  family: IPFamily;
  first: bigint;
  last: bigint;
}

export const FAMILY_BITS: Record<IPFamily, number> = { 4: 32, 6: 128 };

export function isParseError(value: unknown): value is ParseError {
  return typeof value === 'object' && value !== null && 'error' in value;
}

/** A plain address, without prefix length or zone. */
export function parseIP(text: string): IPValue | ParseError {
  if (text.includes('/') || text.includes('%') || text.trim() !== text || text === '') {
    return { error: 'not an IPv4 or IPv6 address' };
  }
  if (Address4.isValid(text)) return { family: 4, value: new Address4(text).bigInt() };
  if (text.includes(':') && Address6.isValid(text)) return { family: 6, value: new Address6(text).bigInt() };
  return { error: 'not an IPv4 or IPv6 address' };
}

export function parseIPv4(text: string): IPValue | ParseError {
  const parsed = parseIP(text);
  return isParseError(parsed) || parsed.family === 4 ? parsed : { error: 'not an IPv4 address' };
}

export function parseIPv6(text: string): IPValue | ParseError {
  const parsed = parseIP(text);
  return isParseError(parsed) || parsed.family === 6 ? parsed : { error: 'not an IPv6 address' };
}

export function formatIP(family: IPFamily, value: bigint): string {
  return family === 4 ? Address4.fromBigInt(value).correctForm() : Address6.fromBigInt(value).correctForm();
}

function hostMask(family: IPFamily, prefixLength: number): bigint {
  return (1n << BigInt(FAMILY_BITS[family] - prefixLength)) - 1n;
}

/** A network in prefix notation; host bits must be zero (192.0.2.0/24, not 192.0.2.1/24). */
export function parseCIDR(text: string): Cidr | ParseError {
  const slash = text.indexOf('/');
  if (slash < 0) return { error: 'not a CIDR (address/prefix-length)' };
  const address = parseIP(text.slice(0, slash));
  if (isParseError(address)) return { error: 'not a CIDR: the address part is not an IPv4 or IPv6 address' };
  const lengthText = text.slice(slash + 1);
  const bits = FAMILY_BITS[address.family];
  const prefixLength = Number(lengthText);
  if (!/^\d{1,3}$/.test(lengthText) || prefixLength > bits) {
    return { error: `prefix length must be 0 to ${bits} for IPv${address.family}` };
  }
  const mask = hostMask(address.family, prefixLength);
  if ((address.value & mask) !== 0n) {
    const network = formatIP(address.family, address.value & ~mask);
    return { error: `host bits are set; the network is ${network}/${prefixLength}` };
  }
  return { family: address.family, network: address.value, prefixLength };
}

export function cidrToRange(cidr: Cidr): AddressRange {
  return { family: cidr.family, first: cidr.network, last: cidr.network | hostMask(cidr.family, cidr.prefixLength) };
}

const IPV4_MAPPED: AddressRange = { family: 6, first: 0xffff00000000n, last: 0xffffffffffffn };

/**
 * A pool entry: a CIDR or `first-last` (spaces around the dash allowed, as MetalLB does).
 * IPv4-mapped IPv6 addresses (::ffff:0:0/96) are IPv4 in disguise and never assignable.
 */
export function parseAddressRange(text: string): AddressRange | ParseError {
  const range = parseRangeText(text);
  if (isParseError(range) || !rangesOverlap(range, IPV4_MAPPED)) return range;
  const mask = IPV4_MAPPED.first;
  const first = formatIP(4, (range.first > mask ? range.first : mask) - mask);
  const last = formatIP(4, (range.last < IPV4_MAPPED.last ? range.last : IPV4_MAPPED.last) - mask);
  return { error: `is IPv4-mapped (::ffff:0:0/96): write the IPv4 range ${first}-${last} instead` };
}

function parseRangeText(text: string): AddressRange | ParseError {
  if (text.includes('/')) {
    const cidr = parseCIDR(text);
    return isParseError(cidr) ? cidr : cidrToRange(cidr);
  }
  const parts = text.split('-');
  if (parts.length !== 2) {
    const single = parseIP(text.trim());
    return isParseError(single)
      ? { error: 'not a CIDR or an a-b address range' }
      : { error: `a single address needs a prefix length (${text.trim()}/${FAMILY_BITS[single.family]})` };
  }
  const [startText = '', endText = ''] = parts.map((part) => part.trim());
  const start = parseIP(startText);
  if (isParseError(start)) return { error: `range start ${JSON.stringify(startText)} is not an IP address` };
  const end = parseIP(endText);
  if (isParseError(end)) return { error: `range end ${JSON.stringify(endText)} is not an IP address` };
  if (start.family !== end.family) return { error: 'range start and end are of different families' };
  if (start.value > end.value) return { error: 'range start is after its end' };
  return { family: start.family, first: start.value, last: end.value };
}

export function rangeSize(range: AddressRange): bigint {
  return range.last - range.first + 1n;
}

export function rangesOverlap(a: AddressRange, b: AddressRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

export function rangeContains(range: AddressRange, ip: IPValue): boolean {
  return range.family === ip.family && range.first <= ip.value && ip.value <= range.last;
}

export function formatRange(range: AddressRange): string {
  return `${formatIP(range.family, range.first)}-${formatIP(range.family, range.last)}`;
}

/** The fewest CIDRs that cover exactly the range, in address order. */
export function rangeToCidrs(range: AddressRange): Cidr[] {
  const bits = FAMILY_BITS[range.family];
  const cidrs: Cidr[] = [];
  let next = range.first;
  while (next <= range.last) {
    let prefixLength = bits;
    // Grow the block while it stays aligned at `next` and inside the range.
    while (prefixLength > 0) {
      const mask = hostMask(range.family, prefixLength - 1);
      if ((next & mask) !== 0n || (next | mask) > range.last) break;
      prefixLength -= 1;
    }
    cidrs.push({ family: range.family, network: next, prefixLength });
    next = (next | hostMask(range.family, prefixLength)) + 1n;
  }
  return cidrs;
}

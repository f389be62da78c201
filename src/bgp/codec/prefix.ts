import { isIPv4, isIPv6 } from 'node:net';
import { parseIp, stringifyIp } from 'ip-bigint';
import { BgpEncodeError } from './encode-error.ts';
import type { Prefix } from './types.ts';

const BITS = { 4: 32, 6: 128 } as const;
const LOW_64 = (1n << 64n) - 1n;
/** Reused by the IPv6 paths; nothing keeps it across calls. */
const SCRATCH = Buffer.alloc(16);

export class PrefixError extends Error {
  override name = 'PrefixError';
}

/** Parses an address of either family into its family and value; throws a PrefixError naming `field`. */
export function parseAddress(text: string, field = 'address'): { family: 4 | 6; value: bigint } {
  if (isIPv4(text)) return { family: 4, value: parseIp(text).number };
  if (isIPv6(text) && !text.includes('%')) return { family: 6, value: parseIp(text).number };
  throw new PrefixError(`${field}: "${text}" is not an IPv4 or IPv6 address`);
}

/** Canonical text of an address value: dotted quad, or RFC 5952 IPv6. */
export function formatAddress(family: 4 | 6, value: bigint): string {
  return stringifyIp({ number: value, version: family });
}

/** Parses "192.0.2.1/32" or "2001:db8::/64" (a bare address means a host route); host bits must be zero. */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const { family, value } = parseAddress(addressText, `prefix "${text}"`);
  const lengthText = slash < 0 ? String(BITS[family]) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > BITS[family]) {
    throw new PrefixError(`prefix "${text}": length "${lengthText}" is not 0..${BITS[family]}`);
  }
  const length = Number(lengthText);
  if ((value & hostMask(family, length)) !== 0n) {
    throw new PrefixError(`prefix "${text}": bits are set past /${length} (did you mean ${formatPrefix({ family, length, address: value & ~hostMask(family, length) })}?)`);
  }
  return { family, address: value, length };
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatAddress(prefix.family, prefix.address)}/${prefix.length}`;
}

function hostMask(family: 4 | 6, length: number): bigint {
  return (1n << BigInt(BITS[family] - length)) - 1n;
}

/** Octets a prefix takes in NLRI encoding: one length octet plus the significant address octets. */
export function nlriSize(prefix: Prefix): number {
  return 1 + ((prefix.length + 7) >> 3);
}

/** Writes `prefix` in NLRI encoding at `offset`; returns the offset after it. */
export function writeNlri(prefix: Prefix, target: Buffer, offset: number): number {
  const octets = (prefix.length + 7) >> 3;
  target[offset] = prefix.length;
  if (prefix.family === 4) {
    // Numbers are faster than bigint shifts for the 32-bit case, which dominates.
    const value = Number(prefix.address);
    for (let i = 0; i < octets; i++) target[offset + 1 + i] = (value >>> (24 - 8 * i)) & 0xff;
  } else {
    // Two 64-bit writes beat sixteen bigint shifts.
    SCRATCH.writeBigUInt64BE(prefix.address >> 64n, 0);
    SCRATCH.writeBigUInt64BE(prefix.address & LOW_64, 8);
    SCRATCH.copy(target, offset + 1, 0, octets);
  }
  return offset + 1 + octets;
}

/** Checks a prefix is encodable; throws a BgpEncodeError naming it otherwise. */
export function checkPrefix(prefix: Prefix, field: string): void {
  const bits = BITS[prefix.family];
  if (bits === undefined || !Number.isInteger(prefix.length) || prefix.length < 0 || prefix.length > bits
    || typeof prefix.address !== 'bigint' || prefix.address < 0n || prefix.address >> BigInt(bits) !== 0n
    || (prefix.address & hostMask(prefix.family, prefix.length)) !== 0n) {
    throw new BgpEncodeError(`${field}: invalid prefix ${JSON.stringify({ ...prefix, address: String(prefix.address) })}`);
  }
}

/**
 * Reads prefixes in NLRI encoding from `bytes[start, end)`. Returns undefined when a
 * length exceeds the family's width or a prefix overruns `end` (the caller names the error).
 */
export function readNlri(family: 4 | 6, bytes: Buffer, start: number, end: number): Prefix[] | undefined {
  const prefixes: Prefix[] = [];
  const maxLength = BITS[family];
  let offset = start;
  while (offset < end) {
    const length = bytes[offset] as number;
    const octets = (length + 7) >> 3;
    if (length > maxLength || offset + 1 + octets > end) return undefined;
    let address: bigint;
    if (family === 4) {
      let value = 0;
      for (let i = 0; i < 4; i++) value = value * 256 + (i < octets ? (bytes[offset + 1 + i] as number) : 0);
      // Trailing bits past the length are "irrelevant" (RFC 4271 §4.3): clear them.
      const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
      address = BigInt((value & mask) >>> 0);
    } else {
      SCRATCH.fill(0);
      bytes.copy(SCRATCH, 0, offset + 1, offset + 1 + octets);
      const value = (SCRATCH.readBigUInt64BE(0) << 64n) | SCRATCH.readBigUInt64BE(8);
      address = length === 128 ? value : value & ~hostMask(6, length);
    }
    prefixes.push({ family, address, length });
    offset += 1 + octets;
  }
  return prefixes;
}

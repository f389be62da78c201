import { BgpEncodeError } from './encode-error.ts';
import { formatAddress, parseAddress } from './prefix.ts';

/** Four octets of an IPv4 address given as text; throws BgpEncodeError naming `field`. */
export function encodeIpv4(text: string, field: string): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(Number(parseFamily(text, 4, field)), 0);
  return bytes;
}

/** Sixteen octets of an IPv6 address given as text. */
function encodeIpv6(text: string, field: string): Buffer {
  const value = parseFamily(text, 6, field);
  const bytes = Buffer.alloc(16);
  bytes.writeBigUInt64BE(value >> 64n, 0);
  bytes.writeBigUInt64BE(value & 0xffffffffffffffffn, 8);
  return bytes;
}

/** An address of either family: 4 or 16 octets. */
export function encodeAnyAddress(text: string, field: string): Buffer {
  return text.includes(':') ? encodeIpv6(text, field) : encodeIpv4(text, field);
}

function parseFamily(text: string, family: 4 | 6, field: string): bigint {
  let parsed;
  try {
    parsed = parseAddress(String(text), field);
  } catch (error) {
    // Encoders report every bad value as a BgpEncodeError.
    throw new BgpEncodeError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.family !== family) throw new BgpEncodeError(`${field}: "${text}" is not an IPv${family} address`);
  return parsed.value;
}

/** Text of 4 or 16 octets at `offset`. */
export function decodeAddress(bytes: Buffer, offset: number, octets: 4 | 16): string {
  if (octets === 4) return formatAddress(4, BigInt(bytes.readUInt32BE(offset)));
  return formatAddress(6, (bytes.readBigUInt64BE(offset) << 64n) | bytes.readBigUInt64BE(offset + 8));
}

import { WellKnownCommunity } from './constants.ts';
import type { LargeCommunity } from './types.ts';

const NAMES: ReadonlyMap<number, string> = new Map(Object.entries(WellKnownCommunity).map(([name, value]) => [value, name]));

function uintPart(text: string, max: number, field: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > max) throw new RangeError(`${field}: "${text}" is not an integer in 0..${max}`);
  return Number(text);
}

/** Parses "65000:100", a 32-bit number, or a well-known name ("NO_EXPORT", "no-export", …) into a uint32. */
export function parseCommunity(text: string): number {
  const name = text.trim().toUpperCase().replace(/-/g, '_');
  const known = (WellKnownCommunity as Record<string, number>)[name];
  if (known !== undefined) return known;
  const parts = text.split(':');
  if (parts.length === 2) {
    return uintPart(parts[0] as string, 0xffff, `community "${text}" ASN`) * 0x10000 + uintPart(parts[1] as string, 0xffff, `community "${text}" value`);
  }
  if (parts.length === 1) return uintPart(text, 0xffffffff, `community "${text}"`);
  throw new RangeError(`community "${text}": expected ASN:value, a number or one of ${Object.keys(WellKnownCommunity).join(', ')}`);
}

/** Well-known name, or "ASN:value". */
export function formatCommunity(value: number): string {
  return NAMES.get(value) ?? `${Math.floor(value / 0x10000)}:${value % 0x10000}`;
}

/** Parses "global:local1:local2" (RFC 8092 §2 notation). */
export function parseLargeCommunity(text: string): LargeCommunity {
  const parts = text.split(':');
  if (parts.length !== 3) throw new RangeError(`large community "${text}": expected global:local1:local2`);
  const [globalAdmin, localData1, localData2] = parts.map((part, i) => uintPart(part, 0xffffffff, `large community "${text}" part ${i + 1}`)) as [number, number, number];
  return { globalAdmin, localData1, localData2 };
}

export function formatLargeCommunity(value: LargeCommunity): string {
  return `${value.globalAdmin}:${value.localData1}:${value.localData2}`;
}

import type { LargeCommunity } from './types.ts';

/** Parses "65000:100" or a well-known name ("NO_EXPORT", "no-export", …) into a uint32. */
export function parseCommunity(text: string): number {
  throw new Error(`community "${text}": parser not implemented yet`);
}

/** Well-known name, or "ASN:value". */
export function formatCommunity(value: number): string {
  return `${value >>> 16}:${value & 0xffff}`;
}

/** Parses "global:local1:local2" (RFC 8092 notation). */
export function parseLargeCommunity(text: string): LargeCommunity {
  throw new Error(`large community "${text}": parser not implemented yet`);
}

export function formatLargeCommunity(value: LargeCommunity): string {
  return `${value.globalAdmin}:${value.localData1}:${value.localData2}`;
}

/** BGP community syntax as BGPAdvertisement.communities and Community values write it. */
import type { ParseError } from './net.ts';

export type ParsedCommunity =
  /** RFC 1997: 16-bit ASN and 16-bit value; `value` is the 32-bit attribute value. */
  | { kind: 'classic'; asn: number; local: number; value: number }
  /** RFC 8092 large community, written large:global:local1:local2. */
  | { kind: 'large'; globalAdministrator: number; localData1: number; localData2: number }
  | { kind: 'well-known'; name: string; value: number }
  /** The name of an alias defined by a Community object. */
  | { kind: 'alias'; name: string };

/** Well-known communities by their usual names (IANA registry values). */
export const WELL_KNOWN_COMMUNITIES: Readonly<Record<string, number>> = {
  'graceful-shutdown': 0xffff0000,
  'accept-own': 0xffff0001,
  'llgr-stale': 0xffff0006,
  'no-llgr': 0xffff0007,
  blackhole: 0xffff029a,
  'no-export': 0xffffff01,
  'no-advertise': 0xffffff02,
  'no-export-subconfed': 0xffffff03,
  'no-peer': 0xffffff04,
};

const ALIAS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function parseUnsigned(text: string, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= max ? value : undefined;
}

/** A literal community: classic a:b, large:a:b:c or a well-known name (no alias). */
export function parseCommunityValue(text: string): ParsedCommunity | ParseError {
  const wellKnown = WELL_KNOWN_COMMUNITIES[text];
  if (wellKnown !== undefined) return { kind: 'well-known', name: text, value: wellKnown };
  const parts = text.split(':');
  if (parts[0] === 'large') {
    if (parts.length !== 4) return { error: 'a large community is large:global:local1:local2' };
    const [globalAdministrator, localData1, localData2] = parts.slice(1).map((part) => parseUnsigned(part, 0xffffffff));
    if (globalAdministrator === undefined || localData1 === undefined || localData2 === undefined) {
      return { error: 'each part of a large community must be 0 to 4294967295' };
    }
    return { kind: 'large', globalAdministrator, localData1, localData2 };
  }
  if (parts.length === 2) {
    const [asn, local] = parts.map((part) => parseUnsigned(part, 0xffff));
    if (asn === undefined || local === undefined) return { error: 'each part of a community must be 0 to 65535' };
    return { kind: 'classic', asn, local, value: asn * 0x10000 + local };
  }
  return { error: 'not a community (65000:100, large:1:2:3 or a well-known name such as no-export)' };
}

/** A community as BGPAdvertisement writes it: a literal or the name of an alias. */
export function parseCommunity(text: string): ParsedCommunity | ParseError {
  if (text.includes(':') || WELL_KNOWN_COMMUNITIES[text] !== undefined) return parseCommunityValue(text);
  if (!ALIAS_NAME.test(text)) return { error: 'not a community (65000:100, large:1:2:3, a well-known name or an alias name)' };
  return { kind: 'alias', name: text };
}

export function isValidAliasName(text: string): boolean {
  return ALIAS_NAME.test(text) && WELL_KNOWN_COMMUNITIES[text] === undefined;
}

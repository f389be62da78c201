import type { CodecOptions, PathAttributes, Prefix, UpdateMessage } from './types.ts';

/** Prefixes sharing one set of attributes. */
export interface AnnouncementGroup {
  /** Shared attributes; `nextHop` (IPv4) is required for IPv4 prefixes. mpReach/mpUnreach are built here. */
  readonly attributes: Omit<PathAttributes, 'mpReach' | 'mpUnreach'>;
  /** Global and optional link-local IPv6 next hop; required for IPv6 prefixes. */
  readonly ipv6NextHops?: readonly string[];
  readonly prefixes: readonly Prefix[];
}

/** Encoded UPDATEs announcing every prefix of the group, as few as the size limit allows. */
export function buildUpdates(_group: AnnouncementGroup, _opts: CodecOptions): Buffer[] {
  return [];
}

/** Encoded UPDATEs withdrawing the prefixes, as few as the size limit allows. */
export function buildWithdraws(_prefixes: readonly Prefix[], _opts: CodecOptions): Buffer[] {
  return [];
}

/** The End-of-RIB marker (RFC 4724 §2) for a family: an empty UPDATE for IPv4 unicast, else an empty MP_UNREACH. */
export function endOfRib(afi: number, safi: number): UpdateMessage {
  if (afi === 1 && safi === 1) return { type: 'update', withdrawn: [], attributes: {}, nlri: [] };
  return { type: 'update', withdrawn: [], attributes: { mpUnreach: { afi, safi, withdrawn: [] } }, nlri: [] };
}

/** The family an UPDATE marks End-of-RIB for, or undefined when it is not a marker. */
export function endOfRibFamily(_update: UpdateMessage): { afi: number; safi: number } | undefined {
  return undefined;
}

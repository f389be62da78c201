import type { Capability, CodecOptions, OpenMessage } from './types.ts';

export interface OpenParameters {
  readonly asn: number;
  readonly holdTimeSec: number;
  readonly bgpIdentifier: string;
  /** Capabilities besides 4-octet AS, which buildOpen always adds with `asn`. */
  readonly capabilities: readonly Capability[];
}

/** An OPEN for `asn`: AS_TRANS in My AS when the ASN needs 4 octets, and the 4-octet AS capability. */
export function buildOpen(params: OpenParameters): OpenMessage {
  return {
    type: 'open',
    version: 4,
    myAs: params.asn > 0xffff ? 23456 : params.asn,
    holdTimeSec: params.holdTimeSec,
    bgpIdentifier: params.bgpIdentifier,
    capabilities: [...params.capabilities.filter((c) => c.kind !== 'fourOctetAs'), { kind: 'fourOctetAs', asn: params.asn }],
  };
}

/** The peer's real ASN: from the 4-octet AS capability when present, else My AS. */
export function openAsn(open: OpenMessage): number {
  const fourOctet = open.capabilities.find((c) => c.kind === 'fourOctetAs');
  return fourOctet?.asn ?? open.myAs;
}

/** Codec options for a session given both OPENs (a capability counts when both sides sent it). */
export function negotiateOptions(local: OpenMessage, remote: OpenMessage): CodecOptions {
  const both = (kind: Capability['kind']): boolean =>
    local.capabilities.some((c) => c.kind === kind) && remote.capabilities.some((c) => c.kind === kind);
  return { fourOctetAs: both('fourOctetAs'), extendedMessages: both('extendedMessage'), ebgp: openAsn(local) !== openAsn(remote) };
}

/**
 * The BGP wire model: one type per message, capability and path attribute.
 * Addresses are canonical strings (IPv4 dotted quad, IPv6 RFC 5952 lower-case);
 * prefixes are `Prefix` values (see prefix.ts for parse/format).
 */

/** An IP prefix. `address` has every bit past `length` cleared (decode guarantees it; encode demands it). */
export interface Prefix {
  readonly family: 4 | 6;
  readonly address: bigint;
  readonly length: number;
}

/** What was negotiated on a session; both false while the OPEN is still being decoded. */
export interface CodecOptions {
  /** Both sides sent the 4-octet AS capability (RFC 6793): AS_PATH/AGGREGATOR carry 4-octet ASNs. */
  readonly fourOctetAs: boolean;
  /** Both sides sent the extended message capability (RFC 8654): UPDATE etc. up to 65535 octets. */
  readonly extendedMessages: boolean;
  /**
   * The peer is in another AS. Used only on decode, for RFC 7606 rules that depend on it
   * (LOCAL_PREF from an eBGP peer is discarded). Default true.
   */
  readonly ebgp?: boolean;
}

// ---------------------------------------------------------------- capabilities (RFC 5492)

export interface MultiprotocolCapability {
  readonly kind: 'multiprotocol';
  readonly afi: number;
  readonly safi: number;
}
export interface RouteRefreshCapability {
  readonly kind: 'routeRefresh';
}
export interface EnhancedRouteRefreshCapability {
  readonly kind: 'enhancedRouteRefresh';
}
export interface ExtendedMessageCapability {
  readonly kind: 'extendedMessage';
}
export interface FourOctetAsCapability {
  readonly kind: 'fourOctetAs';
  readonly asn: number;
}
export interface GracefulRestartFamily {
  readonly afi: number;
  readonly safi: number;
  /** F bit: forwarding state for this family was preserved across the restart. */
  readonly forwardingPreserved: boolean;
}
export interface GracefulRestartCapability {
  readonly kind: 'gracefulRestart';
  /** R bit: the sender has restarted. */
  readonly restartState: boolean;
  /** N bit (RFC 8538): the sender supports graceful restart on NOTIFICATION. */
  readonly notification: boolean;
  /** 12 bits: 0..4095 s. */
  readonly restartTimeSec: number;
  readonly families: readonly GracefulRestartFamily[];
}
/** The hostname capability FRR sends (draft-walton-bgp-hostname-capability, code 73). */
export interface FqdnCapability {
  readonly kind: 'fqdn';
  readonly hostname: string;
  readonly domain: string;
}
export interface UnknownCapability {
  readonly kind: 'unknown';
  readonly code: number;
  readonly value: Buffer;
}
export type Capability =
  | MultiprotocolCapability
  | RouteRefreshCapability
  | EnhancedRouteRefreshCapability
  | ExtendedMessageCapability
  | FourOctetAsCapability
  | GracefulRestartCapability
  | FqdnCapability
  | UnknownCapability;

// ---------------------------------------------------------------- path attributes

/** 0 IGP, 1 EGP, 2 INCOMPLETE. */
export type Origin = 0 | 1 | 2;

export type AsPathSegmentType = 'set' | 'sequence' | 'confedSequence' | 'confedSet';
export interface AsPathSegment {
  readonly type: AsPathSegmentType;
  /** 1..255 ASNs, each 0..4294967295 (the codec maps ASNs > 65535 to AS_TRANS + AS4_PATH for 2-octet peers). */
  readonly asns: readonly number[];
}

export interface Aggregator {
  readonly asn: number;
  readonly address: string;
}

export interface LargeCommunity {
  readonly globalAdmin: number;
  readonly localData1: number;
  readonly localData2: number;
}

/** MP_REACH_NLRI (RFC 4760) for IPv4/IPv6 unicast or multicast. */
export interface MpReach {
  readonly afi: number;
  readonly safi: number;
  /** One next hop, or for IPv6 a global and a link-local one (RFC 2545). */
  readonly nextHops: readonly string[];
  readonly nlri: readonly Prefix[];
}
export interface MpUnreach {
  readonly afi: number;
  readonly safi: number;
  readonly withdrawn: readonly Prefix[];
}

/** An attribute the codec does not model (or a family it does not parse), kept as received. */
export interface UnknownAttribute {
  readonly flags: number;
  readonly typeCode: number;
  readonly value: Buffer;
}

/**
 * Path attributes of one UPDATE. AS4_PATH / AS4_AGGREGATOR never appear here: on a
 * 2-octet session the decoder merges them into `asPath`/`aggregator` (RFC 6793 §4.2.3)
 * and the encoder produces them.
 */
export interface PathAttributes {
  readonly origin?: Origin;
  readonly asPath?: readonly AsPathSegment[];
  readonly nextHop?: string;
  readonly med?: number;
  readonly localPref?: number;
  readonly atomicAggregate?: boolean;
  readonly aggregator?: Aggregator;
  /** RFC 1997 communities as uint32 (high 16 bits ASN, low 16 bits value). */
  readonly communities?: readonly number[];
  readonly originatorId?: string;
  readonly clusterList?: readonly string[];
  readonly mpReach?: MpReach;
  readonly mpUnreach?: MpUnreach;
  /** Extended communities (RFC 4360) as 64-bit unsigned values. */
  readonly extendedCommunities?: readonly bigint[];
  readonly largeCommunities?: readonly LargeCommunity[];
  readonly unknown?: readonly UnknownAttribute[];
}

// ---------------------------------------------------------------- messages

export interface OpenMessage {
  readonly type: 'open';
  /** Always 4 on encode; decode rejects anything else. */
  readonly version: number;
  /** The 2-octet "My Autonomous System" field: AS_TRANS (23456) when the real ASN needs 4 octets. */
  readonly myAs: number;
  /** 0 or 3..65535. */
  readonly holdTimeSec: number;
  /** Dotted quad, not 0.0.0.0. */
  readonly bgpIdentifier: string;
  readonly capabilities: readonly Capability[];
}

export interface UpdateMessage {
  readonly type: 'update';
  /** IPv4 unicast prefixes in the Withdrawn Routes field. */
  readonly withdrawn: readonly Prefix[];
  readonly attributes: PathAttributes;
  /** IPv4 unicast prefixes in the NLRI field. */
  readonly nlri: readonly Prefix[];
}

export interface NotificationMessage {
  readonly type: 'notification';
  readonly code: number;
  readonly subcode: number;
  readonly data: Buffer;
}

export interface KeepaliveMessage {
  readonly type: 'keepalive';
}

/** RFC 2918; `subtype` is RFC 7313's: 0 normal request, 1 BoRR, 2 EoRR. */
export interface RouteRefreshMessage {
  readonly type: 'routeRefresh';
  readonly afi: number;
  readonly safi: number;
  readonly subtype: number;
}

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

// ---------------------------------------------------------------- decode outcomes

/** What to put in the NOTIFICATION the session sends before closing (RFC 4271 §6). */
export interface BgpDecodeError {
  readonly code: number;
  readonly subcode: number;
  readonly data: Buffer;
  /** For logs: the field and the value at fault. */
  readonly reason: string;
}

/**
 * An error RFC 7606 says to survive: 'treat-as-withdraw' (the UPDATE's NLRI, in-line and
 * MP_REACH, are returned as withdrawn instead) or 'attribute-discard' (the attribute is dropped).
 */
export interface DecodeWarning {
  readonly action: 'treat-as-withdraw' | 'attribute-discard';
  readonly attributeType: number;
  readonly reason: string;
}

export type DecodeResult =
  | { readonly ok: true; readonly message: BgpMessage; readonly warnings: readonly DecodeWarning[] }
  | { readonly ok: false; readonly error: BgpDecodeError };

/** The output of MessageFramer.push: whole messages (header included), or the framing error that ends the session. */
export interface FramerOutput {
  readonly messages: Buffer[];
  readonly error?: BgpDecodeError;
}

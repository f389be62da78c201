/** Numbers from the RFCs and the IANA BGP registries. */

export const HEADER_LENGTH = 19;
export const MAX_MESSAGE_LENGTH = 4096;
/** RFC 8654. OPEN and KEEPALIVE stay within MAX_MESSAGE_LENGTH regardless. */
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;
export const BGP_VERSION = 4;
export const BGP_PORT = 179;
/** RFC 6793: stands in for a 4-octet ASN toward a 2-octet speaker. */
export const AS_TRANS = 23456;

export const MessageTypeCode = { open: 1, update: 2, notification: 3, keepalive: 4, routeRefresh: 5 } as const;

export const Afi = { ipv4: 1, ipv6: 2 } as const;
export const Safi = { unicast: 1, multicast: 2 } as const;

export const CapabilityCode = {
  multiprotocol: 1,
  routeRefresh: 2,
  extendedMessage: 6,
  gracefulRestart: 64,
  fourOctetAs: 65,
  enhancedRouteRefresh: 70,
  fqdn: 73,
} as const;

export const AttributeType = {
  origin: 1,
  asPath: 2,
  nextHop: 3,
  med: 4,
  localPref: 5,
  atomicAggregate: 6,
  aggregator: 7,
  communities: 8,
  originatorId: 9,
  clusterList: 10,
  mpReach: 14,
  mpUnreach: 15,
  extendedCommunities: 16,
  as4Path: 17,
  as4Aggregator: 18,
  largeCommunities: 32,
} as const;

export const AttributeFlag = { optional: 0x80, transitive: 0x40, partial: 0x20, extendedLength: 0x10 } as const;

/** RFC 1997, RFC 3765, RFC 7999, RFC 8326 well-known communities. */
export const WellKnownCommunity = {
  GRACEFUL_SHUTDOWN: 0xffff0000,
  BLACKHOLE: 0xffff029a,
  NO_EXPORT: 0xffffff01,
  NO_ADVERTISE: 0xffffff02,
  NO_EXPORT_SUBCONFED: 0xffffff03,
  NOPEER: 0xffffff04,
} as const;

/** NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313). */
export const ErrorCode = {
  messageHeader: 1,
  open: 2,
  update: 3,
  holdTimerExpired: 4,
  fsm: 5,
  cease: 6,
  routeRefresh: 7,
} as const;

export const HeaderErrorSubcode = { connectionNotSynchronized: 1, badMessageLength: 2, badMessageType: 3 } as const;

export const OpenErrorSubcode = {
  unspecific: 0,
  unsupportedVersionNumber: 1,
  badPeerAs: 2,
  badBgpIdentifier: 3,
  unsupportedOptionalParameter: 4,
  unacceptableHoldTime: 6,
  unsupportedCapability: 7,
  roleMismatch: 11,
} as const;

export const UpdateErrorSubcode = {
  malformedAttributeList: 1,
  unrecognizedWellKnownAttribute: 2,
  missingWellKnownAttribute: 3,
  attributeFlagsError: 4,
  attributeLengthError: 5,
  invalidOriginAttribute: 6,
  invalidNextHopAttribute: 8,
  optionalAttributeError: 9,
  invalidNetworkField: 10,
  malformedAsPath: 11,
} as const;

/** RFC 6608. */
export const FsmErrorSubcode = {
  unspecified: 0,
  unexpectedMessageInOpenSent: 1,
  unexpectedMessageInOpenConfirm: 2,
  unexpectedMessageInEstablished: 3,
} as const;

/** RFC 4486, RFC 8538 (hard reset), RFC 9384 (BFD down). */
export const CeaseSubcode = {
  maximumPrefixesReached: 1,
  administrativeShutdown: 2,
  peerDeconfigured: 3,
  administrativeReset: 4,
  connectionRejected: 5,
  otherConfigurationChange: 6,
  connectionCollisionResolution: 7,
  outOfResources: 8,
  hardReset: 9,
  bfdDown: 10,
} as const;

export const RouteRefreshErrorSubcode = { invalidMessageLength: 1 } as const;

/** RFC 7313 message subtypes carried in ROUTE-REFRESH's reserved octet. */
export const RouteRefreshSubtype = { request: 0, beginningOfRouteRefresh: 1, endOfRouteRefresh: 2 } as const;

const ERROR_NAMES: ReadonlyMap<number, { name: string; subcodes: ReadonlyMap<number, string> }> = new Map([
  [ErrorCode.messageHeader, { name: 'Message Header Error', subcodes: new Map([
    [1, 'Connection Not Synchronized'], [2, 'Bad Message Length'], [3, 'Bad Message Type'],
  ]) }],
  [ErrorCode.open, { name: 'OPEN Message Error', subcodes: new Map([
    [0, 'Unspecific'], [1, 'Unsupported Version Number'], [2, 'Bad Peer AS'], [3, 'Bad BGP Identifier'],
    [4, 'Unsupported Optional Parameter'], [5, 'Authentication Failure (deprecated)'], [6, 'Unacceptable Hold Time'],
    [7, 'Unsupported Capability'], [11, 'Role Mismatch'],
  ]) }],
  [ErrorCode.update, { name: 'UPDATE Message Error', subcodes: new Map([
    [0, 'Unspecific'], [1, 'Malformed Attribute List'], [2, 'Unrecognized Well-known Attribute'],
    [3, 'Missing Well-known Attribute'], [4, 'Attribute Flags Error'], [5, 'Attribute Length Error'],
    [6, 'Invalid ORIGIN Attribute'], [7, 'AS Routing Loop (deprecated)'], [8, 'Invalid NEXT_HOP Attribute'],
    [9, 'Optional Attribute Error'], [10, 'Invalid Network Field'], [11, 'Malformed AS_PATH'],
  ]) }],
  [ErrorCode.holdTimerExpired, { name: 'Hold Timer Expired', subcodes: new Map([[0, 'Unspecific']]) }],
  [ErrorCode.fsm, { name: 'Finite State Machine Error', subcodes: new Map([
    [0, 'Unspecified'], [1, 'Receive Unexpected Message in OpenSent State'],
    [2, 'Receive Unexpected Message in OpenConfirm State'], [3, 'Receive Unexpected Message in Established State'],
  ]) }],
  [ErrorCode.cease, { name: 'Cease', subcodes: new Map([
    [0, 'Unspecific'], [1, 'Maximum Number of Prefixes Reached'], [2, 'Administrative Shutdown'],
    [3, 'Peer De-configured'], [4, 'Administrative Reset'], [5, 'Connection Rejected'],
    [6, 'Other Configuration Change'], [7, 'Connection Collision Resolution'], [8, 'Out of Resources'],
    [9, 'Hard Reset'], [10, 'BFD Down'],
  ]) }],
  [ErrorCode.routeRefresh, { name: 'ROUTE-REFRESH Message Error', subcodes: new Map([
    [0, 'Reserved'], [1, 'Invalid Message Length'],
  ]) }],
]);

/** True when (code, subcode) is a pair the registries define. */
export function isKnownErrorCode(code: number, subcode: number): boolean {
  return ERROR_NAMES.get(code)?.subcodes.has(subcode) ?? false;
}

/** "Cease / Administrative Shutdown" style text for logs; unknown numbers are shown as numbers. */
export function describeError(code: number, subcode: number): string {
  const entry = ERROR_NAMES.get(code);
  if (!entry) return `error code ${code} subcode ${subcode}`;
  return `${entry.name} / ${entry.subcodes.get(subcode) ?? `subcode ${subcode}`}`;
}

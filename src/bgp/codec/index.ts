/**
 * BGP-4 codec: pure functions over bytes, no sockets, no timers.
 *
 * Public surface (stable; the session layer codes against it):
 * - Types: `BgpMessage` (discriminated by `type`: 'open' | 'update' | 'notification' |
 *   'keepalive' | 'routeRefresh'), `Capability` (by `kind`), `PathAttributes`, `Prefix`
 *   ({ family, address: bigint, length }, host bits clear), `CodecOptions` (what the OPEN
 *   exchange negotiated: fourOctetAs, extendedMessages, ebgp).
 * - `decodeMessage(bytes, opts)`: one whole message (header included, as MessageFramer
 *   yields it) → `{ ok: true, message, warnings }` or `{ ok: false, error: { code, subcode,
 *   data, reason } }`. Never throws. `error` is what the session sends as NOTIFICATION.
 *   RFC 7606 outcomes come back as warnings: 'treat-as-withdraw' (then `message` is an
 *   UPDATE whose NLRI and MP_REACH prefixes are moved to `withdrawn`/`mpUnreach` and whose
 *   other attributes are dropped) and 'attribute-discard' (the attribute is left out).
 *   An attribute overrunning the attributes field ends parsing there (RFC 7606 §4): an
 *   MP_REACH_NLRI after that point cannot be found, so its prefixes are not in `mpUnreach`.
 *   A ROUTE-REFRESH is returned whatever its subtype; RFC 7313 says to ignore subtypes > 2.
 * - `encodeMessage(message, opts)` → Buffer. Throws `BgpEncodeError` (naming the field and
 *   value) on input that cannot be encoded: a programming error, not a peer's.
 * - `MessageFramer`: push TCP chunks, get whole messages, or the framing error (it holds
 *   at most one partial message; `setExtendedMessages(true)` after the OPEN exchange).
 * - `buildUpdates(group, opts)` / `buildWithdraws(prefixes, opts)`: as few encoded UPDATEs
 *   as the message size allows (IPv4 in NLRI / Withdrawn Routes, IPv6 in MP_REACH /
 *   MP_UNREACH). `endOfRib(afi, safi)` / `endOfRibFamily(update)` for RFC 4724 markers.
 * - OPEN helpers: `buildOpen`, `openAsn`, `negotiateOptions`; NOTIFICATION helpers for RFC
 *   8203 shutdown communication; community text helpers; `parsePrefix` / `formatPrefix`.
 * - Constants: codes and subcodes by name (`ErrorCode`, `CeaseSubcode`, …), `describeError`,
 *   `isKnownErrorCode`.
 */
export type * from './types.ts';
export * from './constants.ts';
export { parsePrefix, formatPrefix, parseAddress, formatAddress, PrefixError } from './prefix.ts';
export { decodeMessage, encodeMessage, BgpEncodeError } from './message.ts';
export { MessageFramer } from './framer.ts';
export { buildUpdates, buildWithdraws, endOfRib, endOfRibFamily, type AnnouncementGroup } from './packing.ts';
export { buildOpen, openAsn, negotiateOptions, type OpenParameters } from './open.ts';
export { shutdownNotification, shutdownCommunication } from './notification.ts';
export { parseCommunity, formatCommunity, parseLargeCommunity, formatLargeCommunity } from './communities.ts';

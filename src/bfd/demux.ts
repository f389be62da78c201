/**
 * Which session a received Control packet belongs to (RFC 5880 §6.8.6, RFC 5881 §3-§5,
 * RFC 5883 §3-§5), pure. The I/O layer passes what the kernel told it about the datagram.
 */
import type { ControlPacket } from './codec.ts';

/** RFC 5881 §5: single hop packets are sent with TTL / hop limit 255 and must arrive with it. */
export const SINGLE_HOP_TTL = 255;
/** MetalLB's BFDProfile.minimumTtl default (multihop). */
export const DEFAULT_MINIMUM_TTL = 254;

export interface DemuxSession {
  readonly localDiscriminator: number;
  readonly peerAddress: string;
  readonly localAddress: string;
  readonly multihop: boolean;
  /** Multihop only: the lowest TTL / hop limit accepted (RFC 5883 §5). */
  readonly minimumTtl: number;
}

export interface Arrival {
  /** Source address of the datagram. */
  readonly peerAddress: string;
  /** Destination address of the datagram (IP_PKTINFO / IPV6_PKTINFO). */
  readonly localAddress: string;
  /** Received on the multihop port (4784) rather than the single hop one (3784). */
  readonly multihop: boolean;
  /** TTL / hop limit the datagram arrived with; -1 when the kernel did not say. */
  readonly ttl: number;
}

export type DemuxResult<S> = { readonly ok: true; readonly session: S } | { readonly ok: false; readonly reason: string };

export function demux<S extends DemuxSession>(packet: ControlPacket, arrival: Arrival, sessions: Iterable<S>): DemuxResult<S> {
  let session: S | undefined;
  if (packet.yourDiscriminator !== 0) {
    for (const s of sessions) if (s.localDiscriminator === packet.yourDiscriminator) session = s;
    if (session === undefined) return { ok: false, reason: `your discriminator ${packet.yourDiscriminator} selects no session` };
    if (session.peerAddress !== arrival.peerAddress || session.multihop !== arrival.multihop) {
      return { ok: false, reason: `your discriminator ${packet.yourDiscriminator} belongs to ${describe(session)}, not to ${arrival.peerAddress} (${arrival.multihop ? 'multihop' : 'single hop'})` };
    }
  } else {
    // Before discriminators are learnt: by addresses, as FRR does (RFC 5881 §3, RFC 5883 §3).
    for (const s of sessions) {
      if (s.peerAddress === arrival.peerAddress && s.localAddress === arrival.localAddress && s.multihop === arrival.multihop) session = s;
    }
    if (session === undefined) return { ok: false, reason: `no session for ${arrival.peerAddress} → ${arrival.localAddress} (${arrival.multihop ? 'multihop' : 'single hop'})` };
  }
  if (session.multihop ? arrival.ttl < session.minimumTtl : arrival.ttl !== SINGLE_HOP_TTL) {
    return { ok: false, reason: `TTL ${arrival.ttl} from ${arrival.peerAddress} is ${session.multihop ? `below the minimum ${session.minimumTtl}` : `not ${SINGLE_HOP_TTL} (single hop)`}` };
  }
  return { ok: true, session };
}

function describe(session: DemuxSession): string {
  return `${session.peerAddress} (${session.multihop ? 'multihop' : 'single hop'})`;
}

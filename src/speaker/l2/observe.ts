/**
 * What a received ARP / NDP frame means to the announcer (pure): whether another host says it
 * has an address (a sighting, which decides conflicts and hand-overs), and whether it asks for
 * an address's link-layer address (a question, answered when we hold the address).
 */
import { UNSPECIFIED_IPV4, UNSPECIFIED_IPV6, type ParsedFrame } from './frames.ts';

export interface Observation {
  /** The sender says `ip` is at `mac`: any ARP packet with that sender IP (RFC 5227 2.1.1), or an NA. */
  sighting?: { ip: string; mac: string };
  /** Who has `ip`? `probe` when asked by an address-less prober (RFC 5227 probe, DAD). */
  question?: { ip: string; probe: boolean };
}

export function observe(frame: ParsedFrame): Observation {
  if (frame.kind === 'arp') {
    const { arp } = frame;
    const observation: Observation = {};
    if (arp.senderIp !== UNSPECIFIED_IPV4) observation.sighting = { ip: arp.senderIp, mac: arp.senderMac };
    // An announcement (sender = target) asks nothing.
    if (arp.operation === 'request' && arp.senderIp !== arp.targetIp) observation.question = { ip: arp.targetIp, probe: arp.senderIp === UNSPECIFIED_IPV4 };
    return observation;
  }
  if (frame.ndp.type === 'advertisement') return { sighting: { ip: frame.ndp.target, mac: frame.ndp.targetLinkAddress ?? frame.ethernet.source } };
  return { question: { ip: frame.ndp.target, probe: frame.ipv6.source === UNSPECIFIED_IPV6 } };
}

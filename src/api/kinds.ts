import { formatIP, isParseError, parseIP } from './net.ts';

export const GROUP = 'anchorlb.io';
export const VERSION = 'v1beta1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;

export const KINDS = ['IPAddressPool', 'L2Advertisement', 'BGPAdvertisement', 'BGPPeer', 'BFDProfile', 'Community', 'VIPStatus', 'AnchorLB'] as const;
export type KindName = (typeof KINDS)[number];

export const KIND_IP_ADDRESS_POOL = 'IPAddressPool';
export const KIND_L2_ADVERTISEMENT = 'L2Advertisement';
export const KIND_BGP_ADVERTISEMENT = 'BGPAdvertisement';
export const KIND_BGP_PEER = 'BGPPeer';
export const KIND_BFD_PROFILE = 'BFDProfile';
export const KIND_COMMUNITY = 'Community';
export const KIND_VIP_STATUS = 'VIPStatus';
export const KIND_ANCHOR_LB = 'AnchorLB';

/** Resource (plural) names, as in the CRDs and API paths. */
export const PLURALS: Readonly<Record<KindName, string>> = {
  IPAddressPool: 'ipaddresspools',
  L2Advertisement: 'l2advertisements',
  BGPAdvertisement: 'bgpadvertisements',
  BGPPeer: 'bgppeers',
  BFDProfile: 'bfdprofiles',
  Community: 'communities',
  VIPStatus: 'vipstatuses',
  AnchorLB: 'anchorlbs',
};

/** Labels speakers put on VIPStatus objects. */
export const VIP_LABELS = {
  ip: 'anchorlb.io/ip',
  node: 'anchorlb.io/node',
  serviceName: 'anchorlb.io/service-name',
  serviceNamespace: 'anchorlb.io/service-namespace',
} as const;

/**
 * The anchorlb.io/ip label value of an address: canonical form, with IPv6 colons as
 * dashes and a 0 where a label would start or end with a dash ("::1" → "0--1").
 * Undefined for text that is not an address.
 */
export function ipLabelValue(ip: string): string | undefined {
  const parsed = parseIP(ip);
  if (isParseError(parsed)) return undefined;
  const dashed = formatIP(parsed.family, parsed.value).replaceAll(':', '-');
  return `${dashed.startsWith('-') ? '0' : ''}${dashed}${dashed.endsWith('-') ? '0' : ''}`;
}

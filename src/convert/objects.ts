import type { JsonObject } from './report.ts';

// TODO(api): import API_VERSION from src/api/index.ts once it lands.
export const ANCHORLB_API_VERSION = 'anchorlb.io/v1beta1';

/** The MetalLB kinds that have an anchorlb counterpart of the same name and fields. */
export const CONVERTIBLE_KINDS: ReadonlySet<string> = new Set([
  'IPAddressPool',
  'L2Advertisement',
  'BGPAdvertisement',
  'BGPPeer',
  'BFDProfile',
  'Community',
]);

export function anchorlbObject(kind: string, name: string, namespace: string | undefined, spec: JsonObject): JsonObject {
  const metadata: JsonObject = namespace === undefined ? { name } : { name, namespace };
  return { apiVersion: ANCHORLB_API_VERSION, kind, metadata, spec };
}

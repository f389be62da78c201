import { API_VERSION } from '../api/index.ts';
import type { JsonObject } from './report.ts';

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
  return { apiVersion: API_VERSION, kind, metadata, spec };
}

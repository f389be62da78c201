import { WELL_KNOWN_COMMUNITIES, isParseError, parseCommunityValue } from '../api/index.ts';
import type { DocumentReport } from './report.ts';

/**
 * Whether a MetalLB community alias only restates a well-known community: MetalLB's
 * own examples define `no-advertise: 65535:65282`. anchorlb knows these names
 * itself and refuses aliases that shadow them, so such an alias is dropped (with a
 * note) and every reference to the name keeps its meaning. An alias of a
 * well-known name with another value is left for the validator to refuse.
 */
export function isRedundantWellKnownAlias(report: DocumentReport, path: string, name: unknown, value: unknown): boolean {
  if (typeof name !== 'string' || typeof value !== 'string') return false;
  const wellKnown = WELL_KNOWN_COMMUNITIES[name];
  const parsed = parseCommunityValue(value);
  if (wellKnown === undefined || isParseError(parsed) || !('value' in parsed) || parsed.value !== wellKnown) return false;
  report.note(`${path} dropped: ${JSON.stringify(name)} = ${JSON.stringify(value)} is the well-known community anchorlb knows by that name`);
  return true;
}

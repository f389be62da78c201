/** The public API of anchorlb's resources: names, types, parsing helpers and validation. */
export * from './kinds.ts';
export * from './annotations.ts';
export type * from '../schemas/generated/types.ts';
export { formatProblem, fieldPath, type Problem } from './problem.ts';
export { validateObject, validateManifests, type ManifestResult } from './validate.ts';
export {
  validateAnchorLB,
  validateBFDProfile,
  validateBGPAdvertisement,
  validateBGPPeer,
  validateCommunity,
  validateIPAddressPool,
  validateL2Advertisement,
  validateVIPStatus,
  type ValidationContext,
} from './semantic.ts';
export * from './net.ts';
export { parseDuration } from './duration.ts';
export { parseCommunity, parseCommunityValue, WELL_KNOWN_COMMUNITIES, type ParsedCommunity } from './community.ts';
export { FORMAT_CHECKS } from './formats.ts';

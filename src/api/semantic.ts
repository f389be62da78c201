/**
 * Rules a schema cannot say, one pure function per kind. Each takes any value (a
 * malformed object gives problems, never an exception) and returns every problem found.
 * The optional context holds other objects for rules that span objects.
 */
import { isValidAliasName, parseCommunity, parseCommunityValue } from './community.ts';
import { parseDuration } from './duration.ts';
import { FAMILY_BITS, isParseError, parseAddressRange, parseIP, parseIPv4, rangeToCidrs, rangesOverlap, type AddressRange, type IPFamily } from './net.ts';
import { fieldPath, type Problem } from './problem.ts';

export interface ValidationContext {
  /** Pools of the cluster (the object itself may be among them): overlaps and aggregation lengths. */
  pools?: readonly unknown[];
  /** Community objects: aliases used by BGPAdvertisements must exist. */
  communities?: readonly unknown[];
  /** BFDProfile objects: BGPPeer.bfdProfile must name one. */
  bfdProfiles?: readonly unknown[];
}

type Fields = Record<string, unknown>;

function fieldsOf(value: unknown): Fields | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
}

function specOf(object: unknown): Fields {
  return fieldsOf(fieldsOf(object)?.spec) ?? {};
}

function nameOf(object: unknown): string | undefined {
  const name = fieldsOf(fieldsOf(object)?.metadata)?.name;
  return typeof name === 'string' ? name : undefined;
}

function namespaceOf(object: unknown): string | undefined {
  const namespace = fieldsOf(fieldsOf(object)?.metadata)?.namespace;
  return typeof namespace === 'string' ? namespace : undefined;
}

/** The string items of an array field, with their paths; other items are the schema's business. */
function stringItems(fields: Fields, field: string, base: string): { path: string; text: string }[] {
  const list = fields[field];
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, index) => (typeof item === 'string' ? [{ path: fieldPath(fieldPath(base, field), index), text: item }] : []));
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Why `key` is not a label key (an optional DNS-subdomain prefix and "/", then a name of at most 63 characters), or undefined. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return 'the prefix before "/" must be a DNS subdomain (lower-case letters, digits, "-" and ".")';
  if (name.length > 63 || !QUALIFIED_NAME.test(name)) return 'must be at most 63 letters, digits, "-", "_" or "." (after an optional prefix/), starting and ending with a letter or digit';
  return undefined;
}

/** Why `name` is not a namespace name (a DNS label), or undefined. */
export function namespaceNameError(name: string): string | undefined {
  return name.length <= 63 && DNS_LABEL.test(name) ? undefined : 'must be a namespace name: at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit';
}

function checkMetadata(object: unknown): Problem[] {
  const metadata = fieldsOf(fieldsOf(object)?.metadata);
  if (!metadata) return [];
  const name = metadata.name;
  if (name === undefined) {
    return typeof metadata.generateName === 'string' ? [] : [{ path: 'metadata.name', value: undefined, message: 'is required' }];
  }
  if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    return [{ path: 'metadata.name', value: name, message: 'must be a DNS subdomain: lower-case letters, digits, "-" and ".", at most 253 characters' }];
  }
  return [];
}

function checkDuplicates(fields: Fields, field: string, base: string): Problem[] {
  const seen = new Map<string, string>();
  const problems: Problem[] = [];
  for (const { path, text } of stringItems(fields, field, base)) {
    const first = seen.get(text);
    if (first === undefined) seen.set(text, path);
    else problems.push({ path, value: text, message: `duplicate of ${first}` });
  }
  return problems;
}

function checkSelector(selector: unknown, path: string): Problem[] {
  const labels = fieldsOf(fieldsOf(selector)?.matchLabels) ?? {};
  const problems: Problem[] = Object.keys(labels).flatMap((key) => {
    const error = labelKeyError(key);
    return error ? [{ path: fieldPath(fieldPath(path, 'matchLabels'), key), value: key, message: error }] : [];
  });
  const expressions = fieldsOf(selector)?.matchExpressions;
  if (!Array.isArray(expressions)) return problems;
  return problems.concat(expressions.flatMap((expression, index) => {
    const fields = fieldsOf(expression);
    const values = fields?.values;
    const count = Array.isArray(values) ? values.length : 0;
    const where = fieldPath(fieldPath(path, 'matchExpressions'), index);
    const keyError = typeof fields?.key === 'string' ? labelKeyError(fields.key) : undefined;
    if (keyError) return [{ path: fieldPath(where, 'key'), value: fields?.key, message: keyError }];
    if ((fields?.operator === 'In' || fields?.operator === 'NotIn') && count === 0) {
      return [{ path: fieldPath(where, 'values'), value: values, message: `operator ${fields.operator} needs at least one value` }];
    }
    if ((fields?.operator === 'Exists' || fields?.operator === 'DoesNotExist') && count > 0) {
      return [{ path: fieldPath(where, 'values'), value: values, message: `operator ${fields.operator} takes no values` }];
    }
    return [];
  }));
}

function checkSelectorList(fields: Fields, field: string, base: string): Problem[] {
  const list = fields[field];
  if (!Array.isArray(list)) return [];
  const path = fieldPath(base, field);
  const problems = list.flatMap((selector, index) => checkSelector(selector, fieldPath(path, index)));
  const seen = new Map<string, number>();
  list.forEach((selector, index) => {
    const key = JSON.stringify(selector);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else problems.push({ path: fieldPath(path, index), value: selector, message: `duplicate of ${fieldPath(path, first)}` });
  });
  return problems;
}

/** Seconds of a duration field, or undefined when absent or invalid (then a problem is added). */
function durationField(fields: Fields, field: string, base: string, problems: Problem[]): number | undefined {
  const text = fields[field];
  if (typeof text !== 'string') return undefined;
  const seconds = parseDuration(text);
  if (isParseError(seconds)) {
    problems.push({ path: fieldPath(base, field), value: text, message: seconds.error });
    return undefined;
  }
  return seconds;
}

/** The ranges of a pool's spec.addresses that parse, with their paths. */
function poolRanges(pool: unknown): { path: string; text: string; range: AddressRange }[] {
  return stringItems(specOf(pool), 'addresses', 'spec').flatMap(({ path, text }) => {
    const range = parseAddressRange(text);
    return isParseError(range) ? [] : [{ path, text, range }];
  });
}

function sameObject(a: unknown, b: unknown): boolean {
  return a === b || (nameOf(a) !== undefined && nameOf(a) === nameOf(b) && namespaceOf(a) === namespaceOf(b));
}

export function validateIPAddressPool(pool: unknown, context: ValidationContext = {}): Problem[] {
  const spec = specOf(pool);
  const problems = checkMetadata(pool);
  const ranges: { path: string; text: string; range: AddressRange }[] = [];
  for (const { path, text } of stringItems(spec, 'addresses', 'spec')) {
    const range = parseAddressRange(text);
    if (isParseError(range)) {
      problems.push({ path, value: text, message: range.error });
      continue;
    }
    const overlapping = ranges.find((other) => rangesOverlap(other.range, range));
    if (overlapping) problems.push({ path, value: text, message: `overlaps ${overlapping.path} (${JSON.stringify(overlapping.text)})` });
    ranges.push({ path, text, range });
  }
  for (const other of context.pools ?? []) {
    if (sameObject(other, pool)) continue;
    for (const theirs of poolRanges(other)) {
      for (const ours of ranges.filter((entry) => rangesOverlap(entry.range, theirs.range))) {
        problems.push({ path: ours.path, value: ours.text, message: `overlaps ${JSON.stringify(theirs.text)} of IPAddressPool ${nameOf(other) ?? '(unnamed)'}` });
      }
    }
  }
  const allocation = fieldsOf(spec.serviceAllocation);
  if (allocation) {
    const base = 'spec.serviceAllocation';
    problems.push(...checkDuplicates(allocation, 'namespaces', base));
    for (const { path, text } of stringItems(allocation, 'namespaces', base)) {
      const error = namespaceNameError(text);
      if (error) problems.push({ path, value: text, message: error });
    }
    problems.push(...checkSelectorList(allocation, 'namespaceSelectors', base));
    problems.push(...checkSelectorList(allocation, 'serviceSelectors', base));
  }
  return problems;
}

function checkAdvertisementCommon(spec: Fields): Problem[] {
  return [
    ...checkDuplicates(spec, 'ipAddressPools', 'spec'),
    ...checkSelectorList(spec, 'ipAddressPoolSelectors', 'spec'),
    ...checkSelectorList(spec, 'nodeSelectors', 'spec'),
    ...checkSelectorList(spec, 'serviceSelectors', 'spec'),
  ];
}

export function validateL2Advertisement(advertisement: unknown): Problem[] {
  const spec = specOf(advertisement);
  const problems = [...checkMetadata(advertisement), ...checkAdvertisementCommon(spec), ...checkDuplicates(spec, 'interfaces', 'spec')];
  const preferred = spec.preferredNodeSelectors;
  if (Array.isArray(preferred)) {
    preferred.forEach((entry, index) => problems.push(...checkSelector(fieldsOf(entry)?.preference, `spec.preferredNodeSelectors[${index}].preference`)));
  }
  const failover = fieldsOf(spec.failover);
  if (failover) {
    const interval = durationField(failover, 'gratuitousInterval', 'spec.failover', problems);
    if (interval === 0) problems.push({ path: 'spec.failover.gratuitousInterval', value: failover.gratuitousInterval, message: 'must be more than 0s' });
    durationField(failover, 'failbackDelay', 'spec.failover', problems);
  }
  return problems;
}

const DEFAULT_AGGREGATION: Record<IPFamily, number> = { 4: 32, 6: 128 };

export function validateBGPAdvertisement(advertisement: unknown, context: ValidationContext = {}): Problem[] {
  const spec = specOf(advertisement);
  const problems = [...checkMetadata(advertisement), ...checkAdvertisementCommon(spec), ...checkDuplicates(spec, 'communities', 'spec'), ...checkDuplicates(spec, 'peers', 'spec')];
  const lengths: Record<IPFamily, { field: string; value: number }> = {
    4: { field: 'aggregationLength', value: DEFAULT_AGGREGATION[4] },
    6: { field: 'aggregationLengthV6', value: DEFAULT_AGGREGATION[6] },
  };
  for (const family of [4, 6] as const) {
    const { field } = lengths[family];
    const value = spec[field];
    if (typeof value !== 'number') continue;
    if (!Number.isInteger(value) || value < 0 || value > FAMILY_BITS[family]) {
      problems.push({ path: `spec.${field}`, value, message: `must be 0 to ${FAMILY_BITS[family]} for IPv${family}` });
      continue;
    }
    lengths[family].value = value;
  }
  const nonDefault = ([4, 6] as const).filter((family) => lengths[family].value !== DEFAULT_AGGREGATION[family]);
  if (Array.isArray(spec.serviceSelectors) && spec.serviceSelectors.length > 0 && nonDefault.length > 0) {
    const field = lengths[nonDefault[0] ?? 4].field;
    problems.push({ path: `spec.${field}`, value: spec[field], message: 'not with spec.serviceSelectors: aggregation would cover Services the selectors leave out' });
  }
  // A pool prefix more specific than the aggregation length would be announced as a larger prefix than the pool holds.
  const named = stringItems(spec, 'ipAddressPools', 'spec').map(({ text }) => text);
  const everyPool = named.length === 0 && !(Array.isArray(spec.ipAddressPoolSelectors) && spec.ipAddressPoolSelectors.length > 0);
  for (const pool of context.pools ?? []) {
    const poolName = nameOf(pool);
    if (!everyPool && (poolName === undefined || !named.includes(poolName))) continue;
    for (const { text, range } of poolRanges(pool)) {
      const { field, value } = lengths[range.family];
      const longest = Math.max(...rangeToCidrs(range).map((cidr) => cidr.prefixLength));
      if (longest > value) {
        problems.push({ path: `spec.${field}`, value, message: `shorter than the /${longest} prefix of ${JSON.stringify(text)} in IPAddressPool ${poolName ?? '(unnamed)'}` });
      }
    }
  }
  const aliases = new Set((context.communities ?? []).flatMap((community) => {
    const list = specOf(community).communities;
    return Array.isArray(list) ? list.map((entry) => fieldsOf(entry)?.name).filter((name): name is string => typeof name === 'string') : [];
  }));
  for (const { path, text } of stringItems(spec, 'communities', 'spec')) {
    const parsed = parseCommunity(text);
    if (isParseError(parsed)) problems.push({ path, value: text, message: parsed.error });
    else if (parsed.kind === 'alias' && context.communities && !aliases.has(parsed.name)) {
      problems.push({ path, value: text, message: 'names no alias of any Community object' });
    }
  }
  return problems;
}

const DEFAULT_HOLD_SECONDS = 90;

export function validateBGPPeer(peer: unknown, context: ValidationContext = {}): Problem[] {
  const spec = specOf(peer);
  const problems = [...checkMetadata(peer), ...checkSelectorList(spec, 'nodeSelectors', 'spec')];
  if (spec.peerASN === undefined && spec.dynamicASN === undefined) {
    problems.push({ path: 'spec.peerASN', value: undefined, message: 'is required unless spec.dynamicASN is set' });
  } else if (spec.peerASN !== undefined && spec.dynamicASN !== undefined) {
    problems.push({ path: 'spec.dynamicASN', value: spec.dynamicASN, message: 'not with spec.peerASN: give one or the other' });
  }
  if (spec.peerAddress === undefined && spec.interface === undefined) {
    problems.push({ path: 'spec.peerAddress', value: undefined, message: 'is required unless spec.interface is set' });
  } else if (spec.peerAddress !== undefined && spec.interface !== undefined) {
    problems.push({ path: 'spec.interface', value: spec.interface, message: 'not with spec.peerAddress: give one or the other' });
  }
  const family: Partial<Record<'peerAddress' | 'sourceAddress', IPFamily>> = {};
  for (const field of ['peerAddress', 'sourceAddress'] as const) {
    const text = spec[field];
    if (typeof text !== 'string') continue;
    const parsed = parseIP(text);
    if (isParseError(parsed)) problems.push({ path: `spec.${field}`, value: text, message: parsed.error });
    else family[field] = parsed.family;
  }
  if (family.peerAddress !== undefined && family.sourceAddress !== undefined && family.peerAddress !== family.sourceAddress) {
    problems.push({ path: 'spec.sourceAddress', value: spec.sourceAddress, message: `is IPv${family.sourceAddress} but spec.peerAddress is IPv${family.peerAddress}` });
  }
  if (typeof spec.routerID === 'string') {
    const parsed = parseIPv4(spec.routerID);
    if (isParseError(parsed)) problems.push({ path: 'spec.routerID', value: spec.routerID, message: parsed.error });
  }
  const hold = durationField(spec, 'holdTime', 'spec', problems);
  const keepalive = durationField(spec, 'keepaliveTime', 'spec', problems);
  if (hold !== undefined && hold !== 0 && hold < 3) problems.push({ path: 'spec.holdTime', value: spec.holdTime, message: 'must be 0s or at least 3s' });
  const effectiveHold = hold ?? DEFAULT_HOLD_SECONDS;
  if (keepalive !== undefined && effectiveHold !== 0 && keepalive >= effectiveHold) {
    problems.push({ path: 'spec.keepaliveTime', value: spec.keepaliveTime, message: `must be less than the hold time (${hold === undefined ? `default ${DEFAULT_HOLD_SECONDS}s` : String(spec.holdTime)})` });
  }
  const connect = durationField(spec, 'connectTime', 'spec', problems);
  if (connect !== undefined && (!Number.isInteger(connect) || connect < 1 || connect > 65535)) {
    problems.push({ path: 'spec.connectTime', value: spec.connectTime, message: 'must be whole seconds from 1s to 65535s' });
  }
  if (spec.password !== undefined && spec.passwordSecret !== undefined) {
    problems.push({ path: 'spec.passwordSecret', value: spec.passwordSecret, message: 'not with spec.password: give one or the other' });
  }
  const secret = fieldsOf(spec.passwordSecret);
  if (secret && (typeof secret.name !== 'string' || secret.name === '')) {
    problems.push({ path: 'spec.passwordSecret.name', value: secret.name, message: 'is required' });
  }
  if (typeof spec.bfdProfile === 'string' && context.bfdProfiles && !context.bfdProfiles.some((profile) => nameOf(profile) === spec.bfdProfile)) {
    problems.push({ path: 'spec.bfdProfile', value: spec.bfdProfile, message: 'names no BFDProfile' });
  }
  return problems;
}

/** Every BFDProfile rule is a range the schema states; only the metadata is left to check. */
export function validateBFDProfile(profile: unknown): Problem[] {
  return checkMetadata(profile);
}

export function validateCommunity(community: unknown): Problem[] {
  const problems = checkMetadata(community);
  const list = specOf(community).communities;
  if (!Array.isArray(list)) return problems;
  const seen = new Map<string, number>();
  list.forEach((entry, index) => {
    const fields = fieldsOf(entry);
    const base = `spec.communities[${index}]`;
    if (typeof fields?.name === 'string') {
      const first = seen.get(fields.name);
      if (!isValidAliasName(fields.name)) {
        problems.push({ path: `${base}.name`, value: fields.name, message: 'must be letters, digits, "_", "." and "-", not a well-known community name' });
      } else if (first !== undefined) {
        problems.push({ path: `${base}.name`, value: fields.name, message: `duplicate of spec.communities[${first}].name` });
      } else {
        seen.set(fields.name, index);
      }
    }
    if (typeof fields?.value === 'string') {
      const parsed = parseCommunityValue(fields.value);
      if (isParseError(parsed)) problems.push({ path: `${base}.value`, value: fields.value, message: parsed.error });
    }
  });
  return problems;
}

export function validateVIPStatus(vip: unknown): Problem[] {
  const problems = checkMetadata(vip);
  const status = fieldsOf(fieldsOf(vip)?.status) ?? {};
  if (typeof status.ip === 'string') {
    const parsed = parseIP(status.ip);
    if (isParseError(parsed)) problems.push({ path: 'status.ip', value: status.ip, message: parsed.error });
  }
  if (status.mode === 'L2' && status.peers !== undefined) problems.push({ path: 'status.peers', value: status.peers, message: 'peers are for mode BGP, not L2' });
  if (status.mode === 'BGP' && status.interface !== undefined) problems.push({ path: 'status.interface', value: status.interface, message: 'interface is for mode L2, not BGP' });
  return problems;
}

/** Kubernetes' toleration rules (a DaemonSet carrying a bad one is refused, and no speaker runs). */
function checkToleration(toleration: unknown, base: string): Problem[] {
  const fields = fieldsOf(toleration) ?? {};
  const problems: Problem[] = [];
  const operator = fields.operator ?? 'Equal';
  if (typeof fields.key === 'string' && fields.key !== '') {
    const error = labelKeyError(fields.key);
    if (error) problems.push({ path: `${base}.key`, value: fields.key, message: error });
  } else if (operator !== 'Exists') {
    problems.push({ path: `${base}.operator`, value: operator, message: 'must be Exists when key is empty' });
  }
  if (operator === 'Exists' && typeof fields.value === 'string' && fields.value !== '') {
    problems.push({ path: `${base}.value`, value: fields.value, message: 'must be empty when operator is Exists' });
  }
  if (fields.tolerationSeconds !== undefined && fields.effect !== 'NoExecute') {
    problems.push({ path: `${base}.tolerationSeconds`, value: fields.tolerationSeconds, message: `applies only to effect NoExecute, not ${JSON.stringify(fields.effect ?? '')}` });
  }
  return problems;
}

export function validateAnchorLB(installation: unknown): Problem[] {
  const spec = specOf(installation);
  const problems = checkMetadata(installation);
  const modes = fieldsOf(spec.modes);
  if (modes && modes.l2 === false && modes.bgp === false) problems.push({ path: 'spec.modes', value: modes, message: 'at least one of l2 and bgp must be enabled' });
  const liveness = fieldsOf(spec.liveness);
  if (liveness) {
    const interval = durationField(liveness, 'heartbeatInterval', 'spec.liveness', problems);
    if (interval === 0) problems.push({ path: 'spec.liveness.heartbeatInterval', value: liveness.heartbeatInterval, message: 'must be more than 0s' });
  }
  const tolerations = fieldsOf(spec.speaker)?.tolerations;
  if (Array.isArray(tolerations)) tolerations.forEach((toleration, index) => problems.push(...checkToleration(toleration, `spec.speaker.tolerations[${index}]`)));
  return problems;
}

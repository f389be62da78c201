import { fieldPath, isParseError, parseIP } from '../api/index.ts';
import type { DocumentReport } from './report.ts';

const METALLB_PREFIXES = ['metallb.io/', 'metallb.universe.tf/'];
const ANCHORLB_PREFIX = 'anchorlb.io/';
/** Annotations users write, carried over under our prefix with the same meaning. */
const CARRIED = new Set(['address-pool', 'loadBalancerIPs', 'allow-shared-ip']);
/** Written back by MetalLB's controller; ours writes its own. */
const SYSTEM_WRITTEN = 'ip-allocated-from-pool';

/** Comma-separated IPs, at most one per family: the problem with `value`, or undefined when it is fine. */
function loadBalancerIPsProblem(value: string): string | undefined {
  const families = new Set<number>();
  for (const part of value.split(',')) {
    const ip = parseIP(part.trim());
    if (isParseError(ip)) return `${JSON.stringify(part.trim())} is ${ip.error}`;
    if (families.has(ip.family)) return `more than one IPv${ip.family} address`;
    families.add(ip.family);
  }
  return undefined;
}

function metallbSuffix(key: string): string | undefined {
  const prefix = METALLB_PREFIXES.find((candidate) => key.startsWith(candidate));
  return prefix === undefined ? undefined : key.slice(prefix.length);
}

/**
 * MetalLB's Service annotations (either prefix) under anchorlb.io/. Both prefixes,
 * or one of them and ours, may be set together only with the same value.
 */
export function convertServiceAnnotations(
  report: DocumentReport,
  annotations: Record<string, string>,
): Record<string, string> {
  const result: Record<string, string> = {};
  const origin = new Map<string, string>();
  const place = (key: string, value: string, from: string): void => {
    const earlier = result[key];
    if (earlier !== undefined && earlier !== value) {
      report.problem(
        fieldPath('metadata.annotations', from),
        value,
        `conflicts with ${origin.get(key) ?? key}: ${JSON.stringify(earlier)}`,
      );
      return;
    }
    result[key] = value;
    if (!origin.has(key)) origin.set(key, from);
  };
  for (const [key, value] of Object.entries(annotations)) {
    const suffix = metallbSuffix(key);
    const path = fieldPath('metadata.annotations', key);
    if (suffix === undefined) {
      place(key, value, key);
    } else if (suffix === SYSTEM_WRITTEN) {
      report.note(`${path} dropped: written by MetalLB's controller; anchorlb writes its own status`);
    } else if (!CARRIED.has(suffix)) {
      report.problem(path, value, 'not supported by anchorlb');
    } else {
      const malformed = suffix === 'loadBalancerIPs' ? loadBalancerIPsProblem(value) : undefined;
      if (malformed === undefined) place(`${ANCHORLB_PREFIX}${suffix}`, value, key);
      else report.problem(path, value, malformed);
    }
  }
  return result;
}

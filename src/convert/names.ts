/** Kubernetes object names used here must be DNS-1123 labels: a-z, 0-9, '-', alphanumeric at both ends, ≤ 63. */
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_LABEL = 63;

export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

/**
 * Turns a free-form name from MetalLB's legacy ConfigMap (where `My_Pool` was
 * fine) into an object name Kubernetes accepts, or undefined if nothing usable
 * is left. Lower-cases, maps each run of other characters to one '-', trims dashes at the
 * ends and cuts to 63 characters.
 */
export function toDnsLabel(name: string): string | undefined {
  const mapped = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  const trimmed = mapped.replace(/^-+/, '').slice(0, MAX_LABEL).replace(/-+$/, '');
  return trimmed === '' ? undefined : trimmed;
}

/** `base` itself if it fits, else `base` cut short enough to carry `-suffix`. */
export function withSuffix(base: string, suffix: string): string {
  const room = MAX_LABEL - suffix.length - 1;
  return `${base.slice(0, room).replace(/-+$/, '')}-${suffix}`;
}

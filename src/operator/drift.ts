/**
 * Whether an object in the cluster still says everything the operator wrote.
 * The server adds defaults (and other controllers add fields), so extra fields
 * in the live object are fine; a changed or missing one is drift.
 */
export function holdsAll(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((item, index) => holdsAll(item, live[index]));
  }
  if (typeof desired === 'object' && desired !== null) {
    if (typeof live !== 'object' || live === null || Array.isArray(live)) return false;
    const liveFields = live as Record<string, unknown>;
    return Object.entries(desired).every(([key, value]) => value === undefined || holdsAll(value, liveFields[key]));
  }
  return desired === live;
}

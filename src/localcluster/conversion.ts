import type { JsonObject, KubeObject } from './types.ts';

/**
 * events.k8s.io/v1 Events are stored as core v1 Events (as kube-apiserver does),
 * so both APIs serve the same objects. Field pairs: events.k8s.io name ↔ core name.
 */
const EVENT_FIELDS: [string, string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
];

function rename(object: KubeObject, pairs: [string, string][], apiVersion: string): KubeObject {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(object)) {
    const pair = pairs.find(([from]) => from === key);
    result[pair ? pair[1] : key] = value;
  }
  return { ...(result as KubeObject), apiVersion, kind: 'Event' };
}

export function eventToCore(event: KubeObject): KubeObject {
  return rename(event, EVENT_FIELDS, 'v1');
}

export function eventFromCore(event: KubeObject): KubeObject {
  return rename(
    event,
    EVENT_FIELDS.map(([a, b]) => [b, a]),
    'events.k8s.io/v1',
  );
}

/** A field selector on events.k8s.io names (regarding.name) as the stored core field (involvedObject.name). */
export function eventFieldToCore(field: string): string {
  for (const [from, to] of EVENT_FIELDS) {
    if (field === from) return to;
    if (field.startsWith(`${from}.`)) return `${to}${field.slice(from.length)}`;
  }
  return field;
}

import { fieldPath } from '../api/index.ts';
import { isJsonObject, type DocumentReport, type JsonObject } from './report.ts';

/** Written by the API server or controllers, never by users: meaningless in another cluster. */
const SYSTEM_WRITTEN = new Set([
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'ownerReferences',
  'finalizers',
]);

/** kubectl's record of the MetalLB object as applied; carried over, it would make kubectl diff against the wrong object. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  return isJsonObject(value) && Object.keys(value).length === 0;
}

function readStringMap(report: DocumentReport, path: string, value: unknown): Record<string, string> | undefined {
  if (!isJsonObject(value)) {
    report.problem(path, value, 'must be a map of strings');
    return undefined;
  }
  const result: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === 'string') result[key] = entry;
    else report.problem(fieldPath(path, key), entry, 'must be a string');
  }
  return result;
}

/**
 * Keeps what a user wrote (name, namespace, labels, annotations), drops what the
 * system wrote (with a note), and reports anything else. Returns undefined when
 * the object has no usable name.
 */
export function convertMetadata(report: DocumentReport, metadata: unknown): JsonObject | undefined {
  if (!isJsonObject(metadata)) {
    report.problem('metadata', metadata, 'must be an object with a name');
    return undefined;
  }
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(metadata)) {
    const path = fieldPath('metadata', key);
    if (SYSTEM_WRITTEN.has(key)) {
      if (!isEmpty(value)) report.note(`${path} dropped: written by the system, not by users`);
    } else if (key === 'name' || key === 'namespace') {
      if (typeof value === 'string' && value !== '') result[key] = value;
      else report.problem(path, value, 'must be a non-empty string');
    } else if (key === 'labels') {
      const labels = readStringMap(report, path, value);
      if (labels !== undefined && Object.keys(labels).length > 0) result.labels = labels;
    } else if (key === 'annotations') {
      const annotations = readStringMap(report, path, value);
      if (annotations !== undefined && LAST_APPLIED in annotations) {
        delete annotations[LAST_APPLIED];
        report.note(`${fieldPath(path, LAST_APPLIED)} dropped: it records the MetalLB object, not the converted one`);
      }
      if (annotations !== undefined && Object.keys(annotations).length > 0) result.annotations = annotations;
    } else {
      report.problem(path, value, 'not supported by anchorlb');
    }
  }
  if (typeof result.name !== 'string') {
    if (!('name' in metadata)) report.problem('metadata.name', undefined, 'required');
    return undefined;
  }
  return result;
}

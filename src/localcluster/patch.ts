import { badRequest } from './errors.ts';
import { cloneJson, isJsonObject, type JsonObject } from './types.ts';

/**
 * The three patch formats kube-apiserver accepts besides apply:
 * JSON patch (RFC 6902), JSON merge patch (RFC 7386), and strategic merge patch
 * for built-in kinds (lists merged by their keys, `$patch` / `$retainKeys` /
 * `$deleteFromPrimitiveList` / `$setElementOrder` directives).
 */

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`json patch: path ${JSON.stringify(pointer)} must start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = JsonObject | unknown[];

function resolveParent(document: unknown, parts: string[], pointer: string): { parent: Container; key: string } {
  let current = document;
  for (const part of parts.slice(0, -1)) {
    if (Array.isArray(current)) current = current[Number(part)];
    else if (isJsonObject(current)) current = current[part];
    else current = undefined;
    if (current === undefined) throw badRequest(`json patch: path ${JSON.stringify(pointer)} does not exist`);
  }
  if (!Array.isArray(current) && !isJsonObject(current)) throw badRequest(`json patch: path ${JSON.stringify(pointer)} does not exist`);
  return { parent: current, key: parts[parts.length - 1] ?? '' };
}

function arrayIndex(array: unknown[], key: string, pointer: string, allowEnd: boolean): number {
  if (key === '-' && allowEnd) return array.length;
  if (!/^\d+$/.test(key)) throw badRequest(`json patch: invalid array index ${JSON.stringify(key)} in ${JSON.stringify(pointer)}`);
  const index = Number(key);
  if (index > array.length || (!allowEnd && index === array.length)) throw badRequest(`json patch: index ${index} out of range in ${JSON.stringify(pointer)}`);
  return index;
}

function readAt(document: unknown, pointer: string): unknown {
  let current = document;
  for (const part of decodePointer(pointer)) {
    current = Array.isArray(current) ? current[Number(part)] : isJsonObject(current) ? current[part] : undefined;
    if (current === undefined) throw badRequest(`json patch: path ${JSON.stringify(pointer)} does not exist`);
  }
  return current;
}

function removeAt(document: unknown, pointer: string): unknown {
  const { parent, key } = resolveParent(document, decodePointer(pointer), pointer);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, pointer, false), 1)[0];
  if (!(key in parent)) throw badRequest(`json patch: cannot remove ${JSON.stringify(pointer)}: it does not exist`);
  const value = parent[key];
  delete parent[key];
  return value;
}

function addAt(document: unknown, pointer: string, value: unknown): unknown {
  const parts = decodePointer(pointer);
  if (parts.length === 0) return value;
  const { parent, key } = resolveParent(document, parts, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, pointer, true), 0, value);
  else parent[key] = value;
  return document;
}

export function applyJsonPatch(document: JsonObject, patch: unknown): JsonObject {
  if (!Array.isArray(patch)) throw badRequest('json patch: the body must be a JSON array of operations');
  let result: unknown = cloneJson(document);
  for (const [i, raw] of patch.entries()) {
    if (!isJsonObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw badRequest(`json patch: operation ${i} needs string "op" and "path"`);
    }
    const { op, path } = raw;
    switch (op) {
      case 'add':
        result = addAt(result, path, cloneJson(raw.value));
        break;
      case 'remove':
        removeAt(result, path);
        break;
      case 'replace':
        removeAt(result, path);
        result = addAt(result, path, cloneJson(raw.value));
        break;
      case 'move':
      case 'copy': {
        if (typeof raw.from !== 'string') throw badRequest(`json patch: operation ${i} (${op}) needs a string "from"`);
        const value = op === 'move' ? removeAt(result, raw.from) : cloneJson(readAt(result, raw.from));
        result = addAt(result, path, value);
        break;
      }
      case 'test':
        if (JSON.stringify(readAt(result, path)) !== JSON.stringify(raw.value)) {
          throw badRequest(`json patch: test operation failed at ${JSON.stringify(path)}`);
        }
        break;
      default:
        throw badRequest(`json patch: unknown operation ${JSON.stringify(op)} (operation ${i})`);
    }
  }
  if (!isJsonObject(result)) throw badRequest('json patch: the result is not a JSON object');
  return result;
}

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return cloneJson(patch);
  const result: JsonObject = isJsonObject(target) ? cloneJson(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/** Merge keys of the built-in lists strategic merge patch merges rather than replaces. */
function mergeKeyFor(field: string, items: unknown[]): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
    case 'resourceClaims':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'conditions':
      return 'type';
    case 'hostAliases':
      return 'ip';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    case 'ownerReferences':
      return 'uid';
    case 'ports':
      // Container ports merge on containerPort, Service ports on port.
      return items.some((item) => isJsonObject(item) && 'containerPort' in item) ? 'containerPort' : 'port';
    default:
      return undefined;
  }
}

const PRIMITIVE_SET_LISTS = new Set(['finalizers']);

function keyOf(item: unknown, mergeKey: string): string {
  return isJsonObject(item) ? JSON.stringify(item[mergeKey]) : JSON.stringify(item);
}

function mergeList(field: string, original: unknown[], patch: unknown[]): unknown[] {
  const mergeKey = mergeKeyFor(field, [...original, ...patch]);
  if (PRIMITIVE_SET_LISTS.has(field)) {
    const result = [...original];
    for (const item of patch) if (!result.some((existing) => JSON.stringify(existing) === JSON.stringify(item))) result.push(item);
    return result;
  }
  if (!mergeKey) return cloneJson(patch.filter((item) => !(isJsonObject(item) && item.$patch !== undefined)));
  if (patch.some((item) => isJsonObject(item) && item.$patch === 'replace')) {
    return cloneJson(patch.filter((item) => !(isJsonObject(item) && item.$patch === 'replace')));
  }
  const result = cloneJson(original);
  for (const item of patch) {
    if (!isJsonObject(item)) continue;
    const key = keyOf(item, mergeKey);
    const index = result.findIndex((existing) => keyOf(existing, mergeKey) === key);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) result[index] = applyStrategicMergePatch(result[index], item);
    else result.push(applyStrategicMergePatch({}, item));
  }
  return result;
}

function reorder(list: unknown[], order: unknown[], field: string): unknown[] {
  const mergeKey = mergeKeyFor(field, [...list, ...order]);
  const rank = (item: unknown): number => {
    const key = mergeKey ? keyOf(item, mergeKey) : JSON.stringify(item);
    const position = order.findIndex((o) => (mergeKey ? keyOf(o, mergeKey) : JSON.stringify(o)) === key);
    return position < 0 ? order.length : position;
  };
  return [...list].sort((a, b) => rank(a) - rank(b));
}

export function applyStrategicMergePatch(original: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return cloneJson(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _directive, ...rest } = patch;
    return cloneJson(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const result: JsonObject = isJsonObject(original) ? cloneJson(original) : {};
  const retainKeys = Array.isArray(patch.$retainKeys) ? patch.$retainKeys.map(String) : undefined;
  const orders = new Map<string, unknown[]>();
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue;
    if (key.startsWith('$setElementOrder/')) {
      if (Array.isArray(value)) orders.set(key.slice('$setElementOrder/'.length), value);
      continue;
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const existing = result[field];
      if (Array.isArray(existing) && Array.isArray(value)) {
        const remove = new Set(value.map((v) => JSON.stringify(v)));
        result[field] = existing.filter((item) => !remove.has(JSON.stringify(item)));
      }
      continue;
    }
    if (value === null) {
      delete result[key];
      continue;
    }
    const current = result[key];
    if (Array.isArray(value)) result[key] = Array.isArray(current) ? mergeList(key, current, value) : mergeList(key, [], value);
    else if (isJsonObject(value)) {
      const merged = applyStrategicMergePatch(current, value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else result[key] = value;
  }
  for (const [field, order] of orders) {
    const list = result[field];
    if (Array.isArray(list)) result[field] = reorder(list, order, field);
  }
  if (retainKeys) for (const key of Object.keys(result)) if (!retainKeys.includes(key)) delete result[key];
  return result;
}

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { fieldInvalid, fieldRequired, fieldUnsupported, type StatusCause } from './errors.ts';
import { cloneJson, isJsonObject, type JsonObject } from './types.ts';

/**
 * What kube-apiserver does with a custom resource's structural schema
 * (openAPIV3Schema): prune unknown fields, apply defaults, validate.
 */

type Schema = JsonObject;

const ROOT_IMPLICIT = new Set(['apiVersion', 'kind', 'metadata']);

function schemaOf(value: unknown): Schema | undefined {
  return isJsonObject(value) ? value : undefined;
}

function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Removes fields the schema does not declare (unless it preserves unknown fields);
 * returns the dotted paths removed, which strict field validation reports.
 */
export function pruneUnknownFields(value: unknown, schema: Schema, path = '', root = true): string[] {
  const removed: string[] = [];
  if (Array.isArray(value)) {
    const items = schemaOf(schema.items);
    if (items) value.forEach((item, i) => removed.push(...pruneUnknownFields(item, items, `${path}[${i}]`, false)));
    return removed;
  }
  if (!isJsonObject(value)) return removed;
  const properties = schemaOf(schema.properties);
  const additional = schemaOf(schema.additionalProperties);
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const embedded = schema['x-kubernetes-embedded-resource'] === true;
  for (const key of Object.keys(value)) {
    if ((root || embedded) && ROOT_IMPLICIT.has(key)) continue;
    const propertySchema = schemaOf(properties?.[key]) ?? additional;
    if (propertySchema) removed.push(...pruneUnknownFields(value[key], propertySchema, childPath(path, key), false));
    else if (!preserve && schema.additionalProperties !== true) {
      delete value[key];
      removed.push(childPath(path, key));
    }
  }
  return removed;
}

/** Fills in `default`s for absent fields, recursing into present objects and array items. */
export function applyDefaults(value: unknown, schema: Schema): void {
  if (Array.isArray(value)) {
    const items = schemaOf(schema.items);
    if (items) for (const item of value) applyDefaults(item, items);
    return;
  }
  if (!isJsonObject(value)) return;
  const properties = schemaOf(schema.properties);
  if (properties) {
    for (const [key, raw] of Object.entries(properties)) {
      const propertySchema = schemaOf(raw);
      if (!propertySchema) continue;
      if (value[key] === undefined && propertySchema.default !== undefined) value[key] = cloneJson(propertySchema.default);
      if (value[key] !== undefined) applyDefaults(value[key], propertySchema);
    }
  }
  const additional = schemaOf(schema.additionalProperties);
  if (additional) {
    for (const key of Object.keys(value)) if (!properties || !(key in properties)) applyDefaults(value[key], additional);
  }
}

function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : childPath(path, part)), '');
}

function valueAt(data: unknown, instancePath: string): unknown {
  let current = data;
  for (const part of instancePath.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    current = Array.isArray(current) ? current[Number(key)] : isJsonObject(current) ? current[key] : undefined;
  }
  return current;
}

function toCause(error: ErrorObject, data: unknown): StatusCause {
  const field = fieldPath(error.instancePath);
  const value = valueAt(data, error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return fieldRequired(childPath(field, String(params.missingProperty)));
    case 'enum':
      return fieldUnsupported(field, value, (Array.isArray(params.allowedValues) ? params.allowedValues : []).map(String));
    case 'type':
      return fieldInvalid(field, value, `${field} in body must be of type ${String(params.type)}: ${JSON.stringify(typeof value === 'object' ? (Array.isArray(value) ? 'array' : 'object') : value)}`);
    case 'maxItems':
      return { reason: 'FieldValueTooMany', field, message: `Too many: ${Array.isArray(value) ? value.length : 0}: must have at most ${String(params.limit)} items` };
    default:
      return fieldInvalid(field, value, `${field} in body ${error.message ?? 'is invalid'}`);
  }
}

export type SchemaValidator = (object: unknown) => StatusCause[];

/** One ajv instance per server: it caches compiled schemas, and each CRD version compiles once. */
export class SchemaCompiler {
  private readonly ajv: Ajv;

  constructor() {
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false, validateFormats: true });
    // ajv-formats is CommonJS: under ESM its plugin is the `default` of module.exports.
    addFormatsModule.default(this.ajv);
    // Formats Kubernetes accepts without checking (or checks elsewhere).
    for (const format of ['int32', 'int64', 'float', 'double', 'password', 'int-or-string', 'quantity', 'datetime']) this.ajv.addFormat(format, true);
    this.ajv.addFormat('cidr', /^[0-9a-fA-F:.]+\/\d{1,3}$/);
    this.ajv.addFormat('mac', /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/);
  }

  compile(schema: Schema): SchemaValidator {
    // metadata is validated by the server itself, as kube-apiserver does.
    const properties = schemaOf(schema.properties);
    const withoutMetadata: Schema = properties ? { ...schema, properties: { ...properties, metadata: { type: 'object' } } } : schema;
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(withoutMetadata);
    } catch (error) {
      throw new Error(`openAPIV3Schema does not compile: ${(error as Error).message}`, { cause: error });
    }
    return (object) => (validate(object) ? [] : (validate.errors ?? []).map((e) => toCause(e, object)));
  }
}

import { fieldForbidden, fieldInvalid, fieldRequired, fieldUnsupported, type StatusCause } from './errors.ts';
import { isJsonObject, type JsonObject } from './types.ts';

/**
 * The structural-schema rules kube-apiserver enforces on a CRD's openAPIV3Schema (the CRD
 * validation of apiextensions-apiserver and its structural-schema invariants), with its field
 * paths (`properties[spec].items`) and messages, so that a CRD it would refuse is refused here too.
 * Docs: kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
 */

type Level = 'root' | 'item' | 'field';

/** Keywords of a value validation (anyOf/allOf/oneOf/not) that would make it say something about structure. */
const NESTED_FORBIDDEN: [string, string][] = [
  ['type', 'must be empty to be structural'],
  ['additionalProperties', 'must be undefined to be structural'],
  ['default', 'must be undefined to be structural'],
  ['title', 'must be empty to be structural'],
  ['description', 'must be empty to be structural'],
  ['x-kubernetes-list-map-keys', 'must be empty to be structural'],
  ['x-kubernetes-list-type', 'must be undefined to be structural'],
];
const NESTED_FLAGS = ['nullable', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string'];
const JUNCTORS = ['anyOf', 'allOf', 'oneOf'] as const;

const key = (path: string, name: string): string => `${path}.properties[${name}]`;
const child = (path: string, name: string): string => `${path}.${name}`;
const objects = (value: unknown): JsonObject[] => (Array.isArray(value) ? value.filter(isJsonObject) : []);

/** `anyOf: [{type: integer}, {type: string}]`, the one value validation allowed to name types (int-or-string). */
function isIntOrStringAnyOf(anyOf: unknown): boolean {
  const branches = objects(anyOf);
  return branches.length === 2 && JSON.stringify(branches) === JSON.stringify([{ type: 'integer' }, { type: 'string' }]);
}

/** Every violation of `schema`, the CRD's openAPIV3Schema at `path` (e.g. `spec.validation.openAPIV3Schema`), sorted as kube-apiserver sorts them. */
export function structuralSchemaCauses(schema: JsonObject, path: string): StatusCause[] {
  const causes = node(schema, 'root', path);
  return causes.sort((a, b) => `${a.field ?? ''}: ${a.message}`.localeCompare(`${b.field ?? ''}: ${b.message}`));
}

function node(schema: JsonObject, level: Level, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const type = typeof schema.type === 'string' ? schema.type : '';
  const properties = isJsonObject(schema.properties) ? schema.properties : {};
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const embedded = schema['x-kubernetes-embedded-resource'] === true;

  if ('$ref' in schema) causes.push(fieldForbidden(child(path, '$ref'), '$ref is not supported'));
  if (type === 'array' && !isJsonObject(schema.items)) causes.push(fieldRequired(child(path, 'items'), 'must be specified'));
  if (isJsonObject(schema.items)) causes.push(...node(schema.items, 'item', child(path, 'items')));
  for (const [name, value] of Object.entries(properties)) if (isJsonObject(value)) causes.push(...node(value, 'field', key(path, name)));
  if (schema.additionalProperties !== undefined) {
    if (level === 'root') causes.push(fieldForbidden(child(path, 'additionalProperties'), 'must not be used at the root'));
    if (Object.keys(properties).length > 0) causes.push(fieldForbidden(child(path, 'additionalProperties'), 'additionalProperties and properties are mutual exclusive'));
    if (isJsonObject(schema.additionalProperties)) causes.push(...node(schema.additionalProperties, 'field', child(path, 'additionalProperties')));
  }
  if (schema.uniqueItems === true) causes.push(fieldForbidden(child(path, 'uniqueItems'), 'uniqueItems cannot be set to true since the runtime complexity becomes quadratic'));
  if (schema['x-kubernetes-preserve-unknown-fields'] === false) causes.push(fieldInvalid(child(path, 'x-kubernetes-preserve-unknown-fields'), false, 'must be true or undefined'));
  if (intOrString && preserve) causes.push(fieldInvalid(child(path, 'x-kubernetes-preserve-unknown-fields'), true, 'must be false if x-kubernetes-int-or-string is true'));
  if (intOrString && embedded) causes.push(fieldInvalid(child(path, 'x-kubernetes-embedded-resource'), true, 'must be false if x-kubernetes-int-or-string is true'));

  // Value validations may restrict values, never say what the structure is.
  for (const junctor of JUNCTORS) {
    objects(schema[junctor]).forEach((branch, index) => {
      if (junctor === 'anyOf' && isIntOrStringAnyOf(schema.anyOf)) return;
      if (junctor === 'allOf' && index === 0 && isIntOrStringAnyOf(branch.anyOf)) return;
      causes.push(...nested(branch, `${path}.${junctor}[${index}]`));
    });
  }
  if (isJsonObject(schema.not)) causes.push(...nested(schema.not, child(path, 'not')));

  if (embedded && type !== 'object') {
    causes.push(type === '' ? fieldRequired(child(path, 'type'), 'must be object if x-kubernetes-embedded-resource is true') : fieldInvalid(child(path, 'type'), type, 'must be object if x-kubernetes-embedded-resource is true'));
  } else if (type === '' && !intOrString && !preserve) {
    const detail = { root: 'must not be empty at the root', item: 'must not be empty for specified array items', field: 'must not be empty for specified object fields' }[level];
    causes.push(fieldRequired(child(path, 'type'), detail));
  }
  if (embedded && schema.additionalProperties !== undefined) causes.push(fieldForbidden(child(path, 'additionalProperties'), 'must not be used if x-kubernetes-embedded-resource is set'));
  if (level === 'root' && type !== '' && type !== 'object') causes.push(fieldInvalid(child(path, 'type'), type, 'must be object at the root'));
  if (level === 'root' || embedded) causes.push(...objectMetaCauses(properties, level, path));
  if (embedded && !preserve && Object.keys(properties).length === 0) {
    causes.push(fieldRequired(child(path, 'properties'), 'must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields'));
  }
  causes.push(...extensionCauses(schema, type, path));
  return causes;
}

/** apiVersion, kind and metadata of an object (the root, or an embedded resource): the API server's, not the CRD's. */
function objectMetaCauses(properties: JsonObject, level: Level, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const typeOf = (name: string): string | undefined => {
    const property = properties[name];
    if (!isJsonObject(property)) return undefined;
    return typeof property.type === 'string' ? property.type : '';
  };
  for (const [name, wanted] of [['kind', 'string'], ['apiVersion', 'string'], ['metadata', 'object']] as const) {
    const actual = typeOf(name);
    if (actual !== undefined && actual !== wanted) causes.push(fieldInvalid(child(key(path, name), 'type'), actual, `must be ${wanted}`));
  }
  const metadata = properties.metadata;
  if (level === 'root' && isJsonObject(metadata)) {
    // Only `type: object` and restrictions of name and generateName (a description is something else).
    const restricted = isJsonObject(metadata.properties) ? Object.keys(metadata.properties) : [];
    const onlyNames = restricted.every((name) => name === 'name' || name === 'generateName');
    const other = Object.keys(metadata).filter((keyword) => keyword !== 'type' && keyword !== 'default' && !(keyword === 'properties' && onlyNames));
    if (other.length > 0) causes.push(fieldForbidden(key(path, 'metadata'), 'must not specify anything other than name and generateName, but metadata is implicitly specified'));
  }
  return causes;
}

/** A value validation under anyOf/allOf/oneOf/not, and everything below it. */
function nested(schema: JsonObject, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const junctor of JUNCTORS) objects(schema[junctor]).forEach((branch, index) => causes.push(...nested(branch, `${path}.${junctor}[${index}]`)));
  if (isJsonObject(schema.not)) causes.push(...nested(schema.not, child(path, 'not')));
  if (isJsonObject(schema.items)) causes.push(...nested(schema.items, child(path, 'items')));
  const properties = isJsonObject(schema.properties) ? schema.properties : {};
  for (const [name, value] of Object.entries(properties)) if (isJsonObject(value)) causes.push(...nested(value, key(path, name)));
  for (const [keyword, detail] of NESTED_FORBIDDEN) if (schema[keyword] !== undefined) causes.push(fieldForbidden(child(path, keyword), detail));
  for (const flag of NESTED_FLAGS) if (schema[flag] === true) causes.push(fieldForbidden(child(path, flag), 'must be false to be structural'));
  if ('metadata' in properties) causes.push(fieldForbidden(key(path, 'metadata'), 'must not be specified in a nested context'));
  return causes;
}

/** Where x-kubernetes-list-type, -list-map-keys and -map-type may stand, and what they need. */
function extensionCauses(schema: JsonObject, type: string, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const listType = schema['x-kubernetes-list-type'];
  const mapKeys = Array.isArray(schema['x-kubernetes-list-map-keys']) ? schema['x-kubernetes-list-map-keys'].map(String) : [];
  const mapType = schema['x-kubernetes-map-type'];
  const needs = (wanted: string, extension: string): StatusCause =>
    type === '' ? fieldRequired(child(path, 'type'), `must be ${wanted} if ${extension} is specified`) : fieldInvalid(child(path, 'type'), type, `must be ${wanted} if ${extension} is specified`);
  if (listType !== undefined && type !== 'array') causes.push(needs('array', 'x-kubernetes-list-type'));
  if (listType !== undefined && !['atomic', 'set', 'map'].includes(String(listType))) causes.push(fieldUnsupported(child(path, 'x-kubernetes-list-type'), listType, ['atomic', 'set', 'map']));
  if (mapType !== undefined && type !== 'object') causes.push(needs('object', 'x-kubernetes-map-type'));
  if (mapType !== undefined && !['atomic', 'granular'].includes(String(mapType))) causes.push(fieldUnsupported(child(path, 'x-kubernetes-map-type'), mapType, ['atomic', 'granular']));
  if (listType === 'map') {
    const items = isJsonObject(schema.items) ? schema.items : undefined;
    if (mapKeys.length === 0) causes.push(fieldRequired(child(path, 'x-kubernetes-list-map-keys'), 'must not be empty if x-kubernetes-list-type is map'));
    if (!items) causes.push(fieldRequired(child(path, 'items'), 'must have a schema if x-kubernetes-list-type is map'));
    else if (items.type !== 'object') causes.push(fieldInvalid(child(child(path, 'items'), 'type'), items.type ?? '', "must be object if parent array's x-kubernetes-list-type is map"));
    else {
      const itemProperties = isJsonObject(items.properties) ? items.properties : {};
      mapKeys.forEach((name, index) => {
        const property = itemProperties[name];
        if (!isJsonObject(property)) causes.push(fieldInvalid(child(path, 'x-kubernetes-list-map-keys'), mapKeys, 'entries must all be names of item properties'));
        else if (property.type === 'array' || property.type === 'object') {
          causes.push(fieldInvalid(child(key(child(path, 'items'), name), 'type'), property.type, "must be a scalar type if parent array's x-kubernetes-list-type is map"));
        }
        if (mapKeys.indexOf(name) !== index) causes.push(fieldInvalid(child(path, 'x-kubernetes-list-map-keys'), mapKeys, 'must not contain duplicate entries'));
      });
    }
  }
  if (mapKeys.length > 0 && listType === undefined) causes.push(fieldRequired(child(path, 'x-kubernetes-list-type'), 'must be map if x-kubernetes-list-map-keys is non-empty'));
  if (mapKeys.length > 0 && listType !== undefined && listType !== 'map') causes.push(fieldInvalid(child(path, 'x-kubernetes-list-type'), listType, 'must be map if x-kubernetes-list-map-keys is non-empty'));
  return causes;
}

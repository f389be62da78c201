/** Schema validation with ajv, from the same JSON Schemas the CRDs are generated from. */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { dereference, isSchemaNode, loadSchemas, type SchemaNode } from '../schemas/load.ts';
import { FORMAT_CHECKS } from './formats.ts';
import { fieldPath, type Problem } from './problem.ts';

/** Keywords of ours and of Kubernetes that ajv should accept and ignore. */
const ANNOTATION_KEYWORDS = [
  'x-anchorlb',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  // CEL rules: the API server runs them; semantic.ts says the same offline.
  'x-kubernetes-validations',
  'tsType',
];

/**
 * Closes every object that lists its properties, so a misspelt field is reported
 * (kubectl's strict field validation does the same; the CRDs rely on pruning instead).
 */
function rejectUnknownFields(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rejectUnknownFields);
  if (!isSchemaNode(node)) return node;
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'default' || key === 'enum' ? value : rejectUnknownFields(value);
  }
  if (isSchemaNode(node.properties) && !('additionalProperties' in node) && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, verbose: true });
  ajv.addVocabulary(ANNOTATION_KEYWORDS);
  for (const [name, check] of Object.entries(FORMAT_CHECKS)) ajv.addFormat(name, (text: string) => check(text) === undefined);
  return ajv;
}

/** One compiled validator per kind name, from the schemas in `schemaDir` (default: src/schemas). */
export function compileKindValidators(schemaDir?: string): Map<string, ValidateFunction> {
  const ajv = createAjv();
  const { common, kinds } = loadSchemas(schemaDir);
  return new Map(kinds.map((kind) => [kind.meta.kind, ajv.compile(rejectUnknownFields(dereference(kind.source, common)) as SchemaNode)]));
}

function formatReason(schema: unknown, value: unknown): string | undefined {
  const format = isSchemaNode(schema) ? schema.format : undefined;
  const check = typeof format === 'string' ? FORMAT_CHECKS[format] : undefined;
  return check && typeof value === 'string' ? check(value) : undefined;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Turns one ajv error into a Problem with a dotted path and the offending value. */
export function problemFromAjvError(error: ErrorObject, root: unknown): Problem {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  let path = '';
  let container = root;
  for (const segment of segments) {
    if (Array.isArray(container)) {
      path = fieldPath(path, Number(segment));
      container = container[Number(segment)];
    } else {
      path = fieldPath(path, segment);
      container = typeof container === 'object' && container !== null ? (container as Record<string, unknown>)[segment] : undefined;
    }
  }
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: fieldPath(path, String(params.missingProperty)), value: undefined, message: 'is required' };
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      path = fieldPath(path, field);
      return { path, value: (container as Record<string, unknown>)[field], message: 'unknown field' };
    }
    case 'type':
      return { path, value: container, message: `must be ${article(String(params.type))}` };
    case 'enum':
      return { path, value: container, message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'minimum':
      return { path, value: container, message: `must be at least ${String(params.limit)}` };
    case 'maximum':
      return { path, value: container, message: `must be at most ${String(params.limit)}` };
    case 'minItems':
      return { path, value: container, message: `must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}` };
    case 'minLength':
      return { path, value: container, message: params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long` };
    case 'maxLength':
      return { path, value: container, message: `must be at most ${String(params.limit)} characters long` };
    case 'pattern': {
      // The pattern is the rough shape Kubernetes can check; the format beside it says what is wrong.
      const reason = formatReason(error.parentSchema, container);
      return { path, value: container, message: reason ?? `must match ${String(params.pattern)}` };
    }
    case 'format':
      return { path, value: container, message: formatReason(error.parentSchema, container) ?? `must be ${article(String(params.format))}` };
    default:
      return { path, value: container, message: error.message ?? `fails ${error.keyword}` };
  }
}
